"""The small fixed workloads every machine is timed on: the same texts everywhere."""

from __future__ import annotations

_TEXT = (
    "全省脱贫攻坚推进会在菏泽召开，会议总结了近年来的工作，部署了下一阶段的任务。"
    "会议指出，要把产业扶贫作为稳定脱贫的主攻方向，因地制宜发展特色种植和养殖，"
    "让贫困群众在产业链上有活干、有钱赚。各地要加强扶贫资金和项目的管理，公开透明，"
    "确保每一笔钱都用在刀刃上。会议强调，要坚持精准识别、精准帮扶、精准退出，"
    "对已经脱贫的人口继续跟踪监测，防止返贫。教育、医疗和住房安全是群众最关心的问题，"
    "必须逐户逐人落实到位。驻村第一书记和工作队要沉下身子，真正把群众的事当成自己的事。"
    "与会代表还参观了当地的扶贫车间和合作社，交流了易地搬迁、金融扶贫和电商扶贫的经验。"
    "The meeting also reviewed 2019 targets, e.g. 100% coverage of basic medical insurance. "
)
PASSAGE_COUNT = 32
QUERY = "全省脱贫攻坚推进会在哪里召开？"
READER_WINDOWS = 4


def passages(count: int = PASSAGE_COUNT) -> list[str]:
    """`count` passages of 120 to 480 characters, as an index build embeds them."""
    doubled = _TEXT * 4
    out = []
    for i in range(count):
        start = (i * 37) % len(_TEXT)
        length = 120 + (i * 97) % 361
        out.append(doubled[start : start + length])
    return out


def reader_windows(count: int = READER_WINDOWS, chars: int = 160) -> list[str]:
    """`count` reading windows of about `chars` characters (the reader's shape)."""
    doubled = _TEXT * 2
    return [doubled[i * 53 : i * 53 + chars] for i in range(count)]


def reader_calibration_windows(count: int = 8, chars: int = 160) -> list[str]:
    """Other windows than `reader_windows`, for the int8 reader's input maxima, so that a
    check on `reader_windows` sees windows it was not calibrated on."""
    doubled = _TEXT * 2
    return [doubled[29 + i * 71 : 29 + i * 71 + chars] for i in range(count)]
