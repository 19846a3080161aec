"""The page's CSS and its one small script (citation chips and the copy link)."""

from __future__ import annotations

CSS = """
#chat { max-width: 920px; margin: 0 auto; }
#chat .message-wrap { padding-right: 36px; }  /* messages scroll clear of the top-right clear button */
#chat .question { white-space: pre-wrap; word-break: break-word; }
#chat .answer { line-height: 1.75; word-break: break-word; }
#chat .answer .short { font-size: 1.25em; font-weight: 700; margin-bottom: 4px;
  color: var(--body-text-color); }
#chat .answer .body { white-space: pre-wrap; }
#chat a.cite { display: inline-block; min-width: 1.4em; padding: 0 5px; margin: 0 2px; border-radius: 9px;
  background: #e8edff; color: #2f49d1 !important; font-size: 0.8em; font-weight: 700; line-height: 1.5;
  text-align: center; text-decoration: none !important; cursor: pointer; vertical-align: 1px; }
#chat a.cite:hover, #chat a.cite:focus { background: #2f49d1; color: #fff !important; }
#chat details.sources { margin-top: 10px; padding-top: 6px;
  border-top: 1px solid var(--border-color-primary); }
#chat details.sources summary { cursor: pointer; color: var(--body-text-color-subdued); font-size: 0.9em; }
#chat .source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px;
  margin: 8px 0; scroll-margin: 80px; }
#chat .source.active { outline: 2px solid #2f49d1; }
#chat .source .num { display: inline-block; min-width: 1.4em; border-radius: 9px; background: #e8edff;
  color: #2f49d1; font-size: 0.8em; font-weight: 700; text-align: center; }
#chat .source .where { color: var(--body-text-color-subdued); font-size: 0.85em; margin-left: 4px; }
#chat .source .passage { margin-top: 4px; white-space: pre-wrap; word-break: break-all; }
#chat .source mark { background: #ffe58f; padding: 1px 2px; border-radius: 3px; color: inherit; }
#chat .answer.refused { border-left: 4px solid #d48806; padding-left: 10px; color: var(--body-text-color); }
#chat .refusal-label { display: block; font-weight: 700; color: #ad6800; margin-bottom: 2px; }
#chat .stopped { color: #ad6800; font-size: 0.9em; margin-top: 4px; }
/* Gradio heads each toast group with its type in the browser's language ("Error", "Info");
   this page speaks Chinese whatever the browser's language */
.toast-title { font-size: 0 !important; }
.toast-title::before { content: "提示"; font-size: var(--text-lg); }
#chat a.copy { display: inline-block; margin-top: 6px; font-size: 0.85em; cursor: pointer;
  color: var(--body-text-color-subdued) !important; text-decoration: none !important; }
#chat .copy-text { display: none; }
#documents { overflow-x: auto; }
@media (max-width: 600px) {
  #documents table { font-size: 0.8em; }
  .gradio-container { padding: 0 6px !important; }
}
"""

# Event delegation on the document, so messages added later work without re-binding.
HEAD = """
<script>
document.addEventListener("click", (event) => {
  const chip = event.target.closest && event.target.closest("a.cite");
  if (chip) {
    event.preventDefault();
    event.stopPropagation();
    const answer = chip.closest(".answer");
    const card = answer && answer.querySelector(`[id="${chip.getAttribute("href").slice(1)}"]`);
    if (!card) return;
    const box = card.closest("details");
    if (box) box.open = true;
    answer.querySelectorAll(".source.active").forEach((c) => c.classList.remove("active"));
    card.classList.add("active");
    card.scrollIntoView({ block: "nearest", behavior: "smooth" });
    return;
  }
  const copy = event.target.closest && event.target.closest("a.copy");
  if (copy) {
    event.preventDefault();
    event.stopPropagation();
    const text = copy.parentElement.querySelector(".copy-text");
    navigator.clipboard && navigator.clipboard.writeText(text ? text.textContent : "");
    copy.textContent = "已复制";
    setTimeout(() => { copy.textContent = "复制"; }, 1500);
  }
}, true);
</script>
"""
