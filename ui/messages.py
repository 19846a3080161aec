"""Upload and build messages in Chinese; the English detail stays in the server log."""

from __future__ import annotations

import re

from rag import errors

# (pattern in the English reason, Chinese message); groups fill the {} in order.
_REASONS: list[tuple[str, str]] = [
    (r"unsupported file type (\S+?);",
     "不支持的文件类型 {}（支持 .txt .md .html .pdf .docx .pptx .xlsx .epub）"),
    (r"(\d+) bytes is over the (?:upload )?limit of (\d+)", "文件太大：{} 字节，上限 {} 字节"),
    (r"old binary format.*save the file as (\.\w+)", "这是旧版二进制格式，请先另存为 {} 再上传"),
    (r"encrypted with a password", "PDF 有密码保护，请先另存为没有密码的副本"),
    (r"all (\d+) pages are scans", "全部 {} 页都是扫描图片，没有文字层（未启用 OCR），无法读取"),
    (r"looks like a binary file", "看起来是二进制文件，不是文本"),
    (r"could not decode", "无法识别文字编码（支持 UTF-8、GBK/GB18030、UTF-16）"),
    (r"holds no (?:text|values)", "文件里没有文字"),
    (r"not a readable|not a complete ZIP|unpacks to", "文件已损坏、不完整或扩展名与内容不符"),
    (r"invalid file name", "文件名无效"),
]
_NOTES: list[tuple[str, str]] = [
    (r"(\d+) of (\d+) pages have no text layer", "有 {} 页（共 {} 页）是扫描图片，没有文字层，已跳过"),
]


def zh_reason(name: str, reason: str) -> str:
    """Why a file was not added, in Chinese, without repeating its name."""
    return _translate(reason, _REASONS) or "无法读取这个文件"


def zh_note(note: str) -> str:
    name, _, rest = note.partition(": ")
    text = _translate(rest, _NOTES)
    return f"{name}：{text}" if text else note


def _translate(reason: str, table: list[tuple[str, str]]) -> str:
    for pattern, message in table:
        m = re.search(pattern, reason, re.IGNORECASE | re.DOTALL)
        if m:
            return message.format(*m.groups())
    return ""


def zh_error(exc: BaseException) -> str:
    """What went wrong while answering, in Chinese; the English detail goes to the server log."""
    text = str(exc)
    if isinstance(exc, errors.InvalidQuestionError):
        m = re.search(r"has (\d+) characters; the limit is (\d+)", text)
        if m:
            return f"问题太长了（{m.group(1)} 字），请控制在 {m.group(2)} 字以内。"
        return "问题里没有可以读的文字，请换个问法。"
    for kind, message in [
        (errors.IndexNotFoundError, "还没有建立索引：请上传文档，或在服务器上运行 rag index build。"),
        (errors.IndexCorruptError, "索引文件已损坏：请在服务器上运行 rag index build 重建。"),
        (errors.IndexMismatchError, "索引是用另一个模型或切分方式建立的：请运行 rag index build 重建。"),
        (errors.IndexBackendError, "无法连接索引数据库（Milvus）：请检查服务器、地址和令牌。"),
        (errors.BuildLockedError, "索引正在更新，请稍后再问。"),
        (errors.ReaderError, "阅读模型无法加载：请检查 answer.reader 设置（详情见服务器日志）。"),
        (errors.GenerationError, "生成模型出错了：请检查 generation 设置或模型服务（详情见服务器日志）。"),
        (errors.ModelNotFoundError, "找不到嵌入模型：请在服务器上运行 rag models。"),
    ]:
        if isinstance(exc, kind):
            return message
    return "出错了，未能回答（详情见服务器日志）。"
