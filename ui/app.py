"""The Gradio page: a chat whose answers carry their own sources, and a documents tab.

    build_app(pipeline) -> gr.Blocks      serve(config, host, port)

Asking is three steps, so typing is never wiped and nothing is lost:
  1. `start`  takes the question from the box (a second one while an answer streams
              is refused with a message, and stays in the box);
  2. `stream` grows the answer, then adds its sources under it;
  3. `finish` gives the send button back.
Stopping is cooperative: the stop button only records the request, and `stream` itself
ends the answer with a "stopped" mark at its next step. A cancelled event could still
deliver one late update that overwrote the mark, so the stream stays the only writer.
Each handler turns rag errors into a Chinese message; no input can crash the server.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from rag.config import Config
from rag.documents import SUPPORTED
from rag.errors import ConfigError, InvalidQuestionError, RagError
from rag.pipeline import Pipeline
from rag.runtime.memory import trim
from ui.auth import login_for
from ui.documents import DocumentManager
from ui.feedback import FeedbackLog, answer_record
from ui.messages import zh_error, zh_note, zh_reason
from ui.render import answer_html, document_rows, literal, new_answer_id, user_html
from ui.style import CSS, HEAD

UPLOAD_TYPES = (".txt", ".md", ".html", ".pdf", ".docx", ".pptx", ".xlsx", ".epub")
log = logging.getLogger(__name__)
EXAMPLES = [
    "全省脱贫攻坚推进会在哪里召开？",
    "会议由谁主持？",
    "刘家义强调了什么？",
    "扶贫措施方面把什么作为主攻方向？",
]
Messages = list[dict[str, Any]]
STOPPED = '<div class="stopped">（已停止，回答不完整）</div>'
_AID = re.compile(r'class="answer[^"]*" id="(a[0-9a-f]{8})"')


def new_session() -> dict[str, Any]:
    """Per-browser state: the plain conversation (for follow-ups) and each answer's record."""
    return {"turns": [], "answers": {}, "busy": False, "pending": "", "aid": ""}


def build_app(pipeline: Pipeline) -> gr.Blocks:
    docs = DocumentManager(pipeline, pipeline.config.ui.max_upload_bytes)
    feedback = FeedbackLog(pipeline.config.ui.feedback_path)
    max_chars = pipeline.config.answer.max_question_chars
    delay_ms = pipeline.config.ui.stream_delay_ms  # lets the browser show the answer growing
    stops: set[str] = set()  # answer ids whose stop was pressed (gr.State is copied per event)
    if not 0 <= delay_ms <= 2000:
        raise ConfigError(f"ui.stream_delay_ms must be 0..2000, got {delay_ms}")

    def start(message: str, chat: Messages, session: dict[str, Any]):
        message = (message or "").strip()
        if session["busy"]:
            raise gr.Error("正在回答上一个问题，请等它结束（或点“停止”）再发送；你输入的内容已保留。",
                           title="请稍候", print_exception=False)
        if not message:
            raise gr.Error("请输入一个问题，例如：全省脱贫攻坚推进会在哪里召开？", title="提示",
                           print_exception=False)
        session = {**session, "busy": True, "pending": message, "aid": new_answer_id()}
        chat = [*chat, {"role": "user", "content": user_html(message)}]
        return chat, "", session, gr.update(visible=False), gr.update(visible=True)

    def stream(chat: Messages, session: dict[str, Any]) -> Iterator[tuple[Messages, dict[str, Any]]]:
        message, aid = session["pending"], session["aid"]
        chat = [*chat, {"role": "assistant", "content": "…"}]
        if aid in stops:  # stopped before it began
            chat[-1]["content"] = STOPPED
            yield chat, session
            return
        if len(message) > max_chars:
            too_long = f"问题太长了（{len(message)} 字），请控制在 {max_chars} 字以内。"
            chat[-1]["content"] = literal(too_long)
            yield chat, session
            return
        try:
            answer = None
            for answer, text in pipeline.stream_answer(message, session["turns"]):
                if aid in stops:  # the part shown so far stays, marked; nothing joins the history
                    shown = str(chat[-1]["content"])
                    chat[-1] = {"role": "assistant", "content": (shown if shown != "…" else "") + STOPPED}
                    yield chat, session
                    return
                chat[-1] = {"role": "assistant", "content": answer_html(text, answer, None, aid, done=False)}
                yield chat, session
                time.sleep(delay_ms / 1000)
            assert answer is not None
            chat[-1] = {"role": "assistant", "content": answer_html(answer.text, answer, pipeline.index, aid)}
            turns = [*session["turns"], {"role": "user", "content": message},
                     {"role": "assistant", "content": answer.text}]
            answers = {**session["answers"], aid: answer_record(answer)}
            session = {**session, "turns": turns, "answers": answers}
        except InvalidQuestionError as exc:
            log.info("question refused: %s", exc)
            chat[-1]["content"] = literal(f"无法回答：{zh_error(exc)}")
        except Exception as exc:  # the edge: any failure becomes a Chinese message, never a dead page
            log.exception("answering failed")
            chat[-1]["content"] = literal(zh_error(exc))
        yield chat, session

    def finish(session: dict[str, Any]):
        trim()  # the answer is shown: give the reader's scratch memory back (~10 ms)
        stops.discard(session["aid"])
        return ({**session, "busy": False, "pending": "", "aid": ""}, gr.update(visible=True),
                gr.update(visible=False, interactive=True))

    def stop_answer(session: dict[str, Any]):
        """Stop: ask the running stream to end at its next step (it marks what was shown)."""
        if session["busy"] and session["aid"]:
            stops.add(session["aid"])
        return gr.update(interactive=False)  # pressed; `finish` hides it and makes it live again

    def retry(chat: Messages, session: dict[str, Any], data: gr.RetryData):
        """重新回答: ask the last question again, replacing its answer."""
        if session["busy"]:
            raise gr.Error("正在回答，请稍候。", title="请稍候")
        turns = session["turns"]
        question = turns[-2]["content"] if len(turns) >= 2 else ""
        if not question:
            raise gr.Error("没有可以重新回答的问题。", title="提示")
        keep = chat[: data.index + 1] if chat[data.index]["role"] == "user" else chat[: data.index]
        session = {**session, "turns": turns[:-2], "busy": True, "pending": question,
                   "aid": new_answer_id()}
        return keep, session, gr.update(visible=False), gr.update(visible=True)

    def like(chat: Messages, session: dict[str, Any], data: gr.LikeData) -> None:
        m = _AID.search(str(chat[data.index]["content"]) if data.index is not None else "")
        record = session["answers"].get(m.group(1)) if m else None
        if record is None:
            return
        feedback.append(record, bool(data.liked))
        gr.Info("谢谢，反馈已记录。", title="反馈", duration=2)

    def ask(question: str) -> dict[str, Any]:
        """One question, no history: the whole Answer (text, short, refused, citations, passages)."""
        result = pipeline.answer(question).to_dict()
        threading.Thread(target=trim, daemon=True).start()  # as the page does, but off the caller's time
        return result

    def table() -> list[list[object]]:
        try:
            return document_rows(pipeline.index)
        except RagError:
            return []

    def refresh():
        return table(), gr.update(choices=docs.uploaded(), value=None)

    def upload(files: list[str] | None, progress: gr.Progress = gr.Progress()):  # noqa: B008
        if not files:
            hint = "请先选择要上传的文件（" + " / ".join(UPLOAD_TYPES) + "）。"
            return hint, gr.skip(), gr.skip(), gr.skip()
        lines = []
        try:
            result = docs.add(list(files), progress=lambda done, total: progress(
                done / max(total, 1), desc=f"正在建立索引 {done}/{total}"))
        except Exception as exc:  # the edge: the old index stays, the user gets Chinese
            log.warning("upload failed: %s", exc, exc_info=not isinstance(exc, RagError))
            return "**索引更新失败**，原索引保持不变。", gr.skip(), gr.skip(), None
        for name, reason in result.rejected:
            log.info("upload of %s refused: %s", name, reason)
            lines.append(f"**未添加 {literal(name)}**：{zh_reason(name, reason)}")
        if result.added:
            r = result.report
            lines.append(f"**已添加 {literal('、'.join(result.added))}**；索引现有 {r.documents} 篇文档、"
                         f"{r.chunks} 个片段（本次新嵌入 {len(r.added)} 篇，用时 {r.seconds:.1f} 秒）。")
            lines.extend(f"注意：{literal(zh_note(note))}" for note in r.notes)
        elif not result.rejected:
            lines.append("没有可添加的文件。")
        trim()  # a build's batches leave freed heap behind
        return "\n\n".join(lines), table(), gr.update(choices=docs.uploaded(), value=None), None

    def remove(name: str | None, progress: gr.Progress = gr.Progress()):  # noqa: B008
        if not name:
            return "请选择要删除的文档（内置文章不能在页面上删除）。", gr.skip(), gr.skip()
        try:
            docs.remove(name, progress=lambda d, t: progress(d / max(t, 1)))
        except Exception as exc:
            log.warning("removing %s failed: %s", name, exc, exc_info=not isinstance(exc, RagError))
            return f"**删除失败**：{literal(name)} 不是已上传的文档，或索引无法更新。", gr.skip(), gr.skip()
        done = f"**已删除 {literal(name)}**，索引已更新。"
        return done, table(), gr.update(choices=docs.uploaded(), value=None)

    with gr.Blocks(title="rag-zh 中文文档问答") as app:
        session = gr.State(new_session)
        gr.Markdown("## rag-zh · 中文文档问答\n"
                    "答案全部摘自文档原文，每句都标注来源；文档没有提到的内容会直接说明。")
        with gr.Tab("问答"):
            chat = gr.Chatbot(show_label=False, height=560, elem_id="chat", sanitize_html=True,
                              buttons=[], feedback_options=("Like", "Dislike"))
            with gr.Row():
                box = gr.Textbox(placeholder="输入问题，按回车发送", show_label=False, scale=5,
                                 elem_id="question", max_lines=4)
                send = gr.Button("发送", variant="primary", scale=1, elem_id="send", min_width=80)
                stop = gr.Button("停止", variant="stop", scale=1, elem_id="stop", min_width=80,
                                 visible=False)
            with gr.Row(elem_id="examples"):
                chips = [gr.Button(q, size="sm", elem_classes=["example"]) for q in EXAMPLES]
        with gr.Tab("文档"):
            listing = gr.Dataframe(headers=["文档", "字符数", "片段数", "哈希"], value=table,
                                   interactive=False, elem_id="documents", wrap=True)
            files = gr.File(label="上传文档（" + " / ".join(UPLOAD_TYPES) + "）", file_count="multiple",
                            file_types=list(SUPPORTED), elem_id="upload")
            add = gr.Button("上传并更新索引", variant="primary", elem_id="add")
            with gr.Row():
                choice = gr.Dropdown(choices=[], label="已上传的文档", scale=3, elem_id="uploaded")
                delete = gr.Button("删除", variant="stop", scale=1, elem_id="delete")
            status = gr.Markdown(elem_id="doc-status")

        def answer_after(first: Any) -> None:
            answering = first.success(stream, [chat, session], [chat, session], api_name=False)
            answering.then(finish, [session], [session, send, stop], api_name=False)

        outputs = [chat, box, session, send, stop]
        answer_after(send.click(start, [box, chat, session], outputs, api_name=False))
        answer_after(box.submit(start, [box, chat, session], outputs, api_name=False))
        for chip in chips:
            answer_after(chip.click(start, [chip, chat, session], outputs, api_name=False))
        answer_after(chat.retry(retry, [chat, session], [chat, session, send, stop], api_name=False))
        stop.click(stop_answer, [session], [stop], api_name=False)
        chat.like(like, [chat, session], None, api_name=False)
        chat.clear(new_session, None, [session], api_name=False)
        gr.api(ask, api_name="ask")
        app.load(refresh, None, [listing, choice], api_name=False)  # fresh on every page load
        add.click(upload, [files], [status, listing, choice, files], api_name="upload")
        delete.click(remove, [choice], [status, listing, choice], api_name="remove")
    return app


def serve(config: Config, host: str = "127.0.0.1", port: int = 7860,
          prevent_thread_lock: bool = False) -> gr.Blocks:
    login = login_for(config.ui)  # before anything loads: a half-set login is an error
    pipeline = Pipeline(config)
    pipeline.index  # load (or build) before the first visitor, not during their question
    trim()
    app = build_app(pipeline)
    ui = config.ui
    auth = login.check if login is not None else None
    if login is not None:
        log.warning("login required on the page and the API (user %r; wrong tries are slowed down)",
                    ui.username)
    app.queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, share=False, auth=auth, css=CSS, head=HEAD,
        theme=gr.themes.Soft(), show_error=False, prevent_thread_lock=prevent_thread_lock,
        max_file_size=config.ui.max_upload_bytes, footer_links=["api"],
    )
    return app
