"""The Gradio page: a chat tab with a sources panel, and a documents tab.

    build_app(pipeline) -> gr.Blocks      serve(config, host, port)

Each handler turns rag errors into a message on the page; nothing reaches the
server as an exception, so no input can crash it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from rag.config import Config
from rag.documents import SUPPORTED
from rag.errors import InvalidQuestionError, RagError
from rag.pipeline import Pipeline
from ui.auth import login_for
from ui.documents import DocumentManager
from ui.render import CSS, chat_text, document_rows, sources_html

UPLOAD_TYPES = (".txt", ".md", ".html", ".pdf", ".docx", ".pptx", ".xlsx", ".epub")
log = logging.getLogger(__name__)
EXAMPLES = [
    "全省脱贫攻坚推进会在哪里召开？",
    "会议由谁主持？",
    "刘家义强调了什么？",
    "扶贫措施方面把什么作为主攻方向？",
]
STREAM_DELAY_S = 0.02  # lets the browser show the answer growing
Messages = list[dict[str, Any]]


def build_app(pipeline: Pipeline) -> gr.Blocks:
    docs = DocumentManager(pipeline, pipeline.config.ui.max_upload_bytes)
    max_chars = pipeline.config.answer.max_question_chars

    def respond(message: str, history: Messages) -> Iterator[tuple[Messages, str, str]]:
        history = list(history or [])
        message = message or ""
        if not message.strip():
            gr.Info("请输入一个问题，例如：全省脱贫攻坚推进会在哪里召开？")
            yield history, message, gr.skip()
            return
        shown = message if len(message) <= 300 else message[:300] + "…"
        history.append({"role": "user", "content": shown})
        if len(message.strip()) > max_chars:
            history.append({"role": "assistant", "content":
                            f"问题太长了（{len(message.strip())} 字），请控制在 {max_chars} 字以内。"})
            yield history, "", gr.skip()
            return
        history.append({"role": "assistant", "content": "…"})
        prior = history[:-2]
        try:
            for answer, text in pipeline.stream_answer(message, prior):
                history[-1] = {"role": "assistant", "content": chat_text(text, answer)}
                yield history, "", gr.skip()
                time.sleep(STREAM_DELAY_S)
            yield history, "", sources_html(answer, pipeline.index)
        except InvalidQuestionError as exc:
            history[-1] = {"role": "assistant", "content": f"无法回答：{exc}"}
            yield history, "", gr.skip()
        except RagError as exc:
            log.exception("answering failed")
            history[-1] = {"role": "assistant", "content": f"出错了：{exc}"}
            yield history, "", gr.skip()

    def table() -> list[list[object]]:
        try:
            return document_rows(pipeline.index)
        except RagError:
            return []

    def upload(files: list[str] | None, progress: gr.Progress = gr.Progress()):  # noqa: B008
        if not files:
            hint = "请先选择要上传的文件（" + " / ".join(UPLOAD_TYPES) + "）。"
            return hint, gr.skip(), gr.skip(), gr.skip()
        lines = []
        try:
            result = docs.add(list(files), progress=lambda done, total: progress(
                done / max(total, 1), desc=f"正在建立索引 {done}/{total}"))
        except RagError as exc:
            return f"**索引重建失败**，原索引保持不变：{exc}", gr.skip(), gr.skip(), None
        for name, reason in result.rejected:
            lines.append(f"**未添加 {name}**：{reason}")
        if result.added:
            r = result.report
            lines.append(f"**已添加 {', '.join(result.added)}**；索引现有 {r.documents} 篇文档、"
                         f"{r.chunks} 个片段（本次新嵌入 {len(r.added)} 篇，用时 {r.seconds:.1f} 秒）。")
            lines.extend(f"注意：{note}" for note in r.notes)
        elif not result.rejected:
            lines.append("没有可添加的文件。")
        return "\n\n".join(lines), table(), gr.update(choices=docs.uploaded(), value=None), None

    def remove(name: str | None, progress: gr.Progress = gr.Progress()):  # noqa: B008
        if not name:
            return "请选择要删除的文档（内置文章不能在页面上删除）。", gr.skip(), gr.skip()
        try:
            docs.remove(name, progress=lambda d, t: progress(d / max(t, 1)))
        except RagError as exc:
            return f"**删除失败**：{exc}", gr.skip(), gr.skip()
        return f"**已删除 {name}**，索引已更新。", table(), gr.update(choices=docs.uploaded(), value=None)

    with gr.Blocks(title="rag-zh 中文文档问答") as app:
        gr.Markdown("## rag-zh · 中文文档问答\n"
                    "答案全部摘自文档原文，每句都标注来源；文档没有提到的内容会直接说明。")
        with gr.Tab("问答"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=320):
                    chat = gr.Chatbot(label="对话", height=460, elem_id="chat",
                                      sanitize_html=True, feedback_options=None)
                    with gr.Row():
                        box = gr.Textbox(placeholder="输入问题，按回车发送", show_label=False,
                                         scale=5, elem_id="question", max_lines=4)
                        send = gr.Button("发送", variant="primary", scale=1, elem_id="send",
                                         min_width=80)
                    gr.Examples(EXAMPLES, inputs=box, label="示例问题")
                    clear = gr.Button("清空对话", size="sm")
                with gr.Column(scale=2, min_width=300):
                    gr.Markdown("### 来源")
                    sources = gr.HTML(sources_html(None, None), elem_id="sources")
        with gr.Tab("文档"):
            listing = gr.Dataframe(headers=["文档", "字符数", "片段数", "哈希"], value=table,
                                   interactive=False, elem_id="documents", wrap=True)
            files = gr.File(label="上传文档（" + " / ".join(UPLOAD_TYPES) + "）", file_count="multiple",
                            file_types=list(SUPPORTED), elem_id="upload")
            add = gr.Button("上传并更新索引", variant="primary", elem_id="add")
            with gr.Row():
                choice = gr.Dropdown(choices=docs.uploaded(), label="已上传的文档", scale=3,
                                     elem_id="uploaded")
                delete = gr.Button("删除", variant="stop", scale=1, elem_id="delete")
            status = gr.Markdown(elem_id="doc-status")

        send.click(respond, [box, chat], [chat, box, sources], api_name="ask")
        box.submit(respond, [box, chat], [chat, box, sources], api_name=False)
        clear.click(lambda: ([], "", sources_html(None, None)), None, [chat, box, sources],
                    api_name=False)
        add.click(upload, [files], [status, listing, choice, files], api_name="upload")
        delete.click(remove, [choice], [status, listing, choice], api_name="remove")
    return app


def serve(config: Config, host: str = "127.0.0.1", port: int = 7860,
          prevent_thread_lock: bool = False) -> gr.Blocks:
    login = login_for(config.ui)  # before anything loads: a half-set login is an error
    pipeline = Pipeline(config)
    pipeline.index  # load (or build) before the first visitor, not during their question
    app = build_app(pipeline)
    ui = config.ui
    auth = login.check if login is not None else None
    if login is not None:
        log.warning("login required on the page and the API (user %r; wrong tries are slowed down)",
                    ui.username)
    app.queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, share=False, auth=auth, css=CSS,
        theme=gr.themes.Soft(), show_error=False, prevent_thread_lock=prevent_thread_lock,
        max_file_size=config.ui.max_upload_bytes, footer_links=["api"],
    )
    return app
