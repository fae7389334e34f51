"""The report's message catalogue: every UI string, in English and Simplified Chinese.

One dictionary per language with the same keys (a test checks that). Sections:

- ``ui``: labels, headings and sentences of the page and its script (``{name}`` placeholders
  are filled with :meth:`str.format` on already-escaped values);
- ``severity``, ``status``, ``change_class``: the controlled vocabularies of the findings and
  yoy frames (``schema.py``);
- ``kind``: finding kinds; ``action``: a short suggested field action per kind, shown in place
  of the detector's English action text when the language is not English (the detector's own
  text stays visible as the detail);
- ``metric``: metric names (the unit stays in the canonical name shown beside it).

Words follow State Grid usage (台区 for a transformer area, 失压/失流/断相, 重过载, 同期线损) so
a technician reads the terms of their own systems. A code missing from a section is shown as
the code itself, never dropped.
"""

from __future__ import annotations

from griddiag.exceptions import ConfigError

__all__ = ["CATALOGUE", "catalogue", "label"]

_EN_UI = {
    "title": "Grid inspection report",
    "lang_attr": "en",
    "run": "Run",
    "year": "Year",
    "baseline_years": "Baseline years",
    "store": "Store",
    "profile": "Detector profile",
    "profile_hash": "Profile hash",
    "version": "griddiag version",
    "generated_at": "Generated",
    "data_range": "Data range",
    "times_in": "Times shown in {tz}",
    "nav_summary": "Summary",
    "nav_findings": "Findings",
    "nav_serious": "Serious findings",
    "nav_changes": "Year-over-year changes",
    "nav_run": "Run details",
    "summary": "Summary",
    "total_findings": "Findings",
    "assets_with_findings": "Assets with findings",
    "significant_changes": "Significant yoy changes",
    "coverage": "Data coverage",
    "by_severity_kind": "Findings by kind and severity",
    "kind": "Kind",
    "severity": "Severity",
    "total": "Total",
    "top_assets": "Assets with the most serious findings",
    "top_areas": "Transformer areas with the most serious findings",
    "asset": "Asset",
    "area": "Transformer area",
    "feeder": "Feeder",
    "kinds": "Kinds",
    "headline_changes": "Headline year-over-year changes",
    "metric": "Metric",
    "change_class": "Change",
    "energy_change_pct": "Energy change",
    "energy": "Energy this year",
    "energy_baseline": "Baseline",
    "peak": "Peak",
    "peak_baseline": "Peak, baseline",
    "load_factor": "Load factor",
    "q_value": "q-value",
    "reason": "Reason",
    "no_findings": "No findings.",
    "no_changes": "No significant year-over-year change.",
    "none": "—",
    "coverage_title": "Data coverage",
    "asset_counts": "Assets",
    "counts_by_status": "Since the previous inspection",
    "findings_table": "All findings",
    "filter_severity": "Severity",
    "filter_kind": "Kind",
    "filter_status": "Status",
    "filter_area": "Feeder / transformer area",
    "filter_asset": "Asset contains",
    "all": "All",
    "reset": "Reset filters",
    "start": "Start",
    "end": "End",
    "observed": "Observed",
    "expected": "Expected",
    "unit": "Unit",
    "action": "Suggested action",
    "status": "Status",
    "rule": "Rule",
    "standard": "Standard",
    "detector": "Detector",
    "magnitude": "Magnitude",
    "score": "Score",
    "peak_ts": "Peak at",
    "prev": "Previous",
    "next": "Next",
    "page_of": "Page {page} of {pages}",
    "rows_shown": "{shown} of {total} findings match",
    "page_size": "Rows per page",
    "details": "details",
    "no_match": "No finding matches the filters.",
    "js_needed": "The findings table needs JavaScript; the summary and the detail cards above "
                 "show the serious findings without it.",
    "serious_title": "Serious findings",
    "serious_intro": "The {n} most serious findings (of {total}), each with its window and the "
                     "expected band.",
    "chart_observed": "observed",
    "chart_band": "expected band",
    "chart_window": "anomaly window",
    "no_chart": "No readings were kept for this finding's chart.",
    "detector_action": "Detector's note",
    "changes_title": "Assets with a significant year-over-year change",
    "changes_intro": "The {n} largest significant changes (of {total}): this year against the "
                     "baseline years.",
    "monthly": "Monthly",
    "daily_profile": "Typical daily profile",
    "hour": "hour",
    "month": "month",
    "this_year": "this year",
    "run_title": "Run details",
    "timings": "Timings",
    "seconds": "{s} s",
    "findings_count": "{n} findings",
    "go_table": "Show in table",
    "footer": "Self-contained report: opens offline; no data leaves this file.",
}

_ZH_UI = {
    "title": "电网巡检报告",
    "lang_attr": "zh-CN",
    "run": "运行编号",
    "year": "年度",
    "baseline_years": "对比年份",
    "store": "数据存储",
    "profile": "检测配置",
    "profile_hash": "配置摘要",
    "version": "griddiag 版本",
    "generated_at": "生成时间",
    "data_range": "数据范围",
    "times_in": "时间按 {tz} 显示",
    "nav_summary": "概览",
    "nav_findings": "异常清单",
    "nav_serious": "严重异常",
    "nav_changes": "同比变化",
    "nav_run": "运行信息",
    "summary": "概览",
    "total_findings": "异常事件",
    "assets_with_findings": "有异常的设备",
    "significant_changes": "显著同比变化",
    "coverage": "数据完整率",
    "by_severity_kind": "按类型和等级统计的异常",
    "kind": "类型",
    "severity": "等级",
    "total": "合计",
    "top_assets": "严重异常最多的设备",
    "top_areas": "严重异常最多的台区",
    "asset": "设备",
    "area": "台区",
    "feeder": "线路",
    "kinds": "异常类型",
    "headline_changes": "主要同比变化",
    "metric": "指标",
    "change_class": "变化类型",
    "energy_change_pct": "电量变化",
    "energy": "本年电量",
    "energy_baseline": "对比基准",
    "peak": "峰值",
    "peak_baseline": "基准峰值",
    "load_factor": "负荷率",
    "q_value": "q 值",
    "reason": "原因",
    "no_findings": "未发现异常。",
    "no_changes": "无显著同比变化。",
    "none": "—",
    "coverage_title": "数据完整率",
    "asset_counts": "设备数量",
    "counts_by_status": "与上次巡检相比",
    "findings_table": "全部异常",
    "filter_severity": "等级",
    "filter_kind": "类型",
    "filter_status": "状态",
    "filter_area": "线路 / 台区",
    "filter_asset": "设备编号包含",
    "all": "全部",
    "reset": "清除筛选",
    "start": "开始",
    "end": "结束",
    "observed": "实测值",
    "expected": "期望值",
    "unit": "单位",
    "action": "建议处置",
    "status": "状态",
    "rule": "判据",
    "standard": "依据标准",
    "detector": "检测器",
    "magnitude": "幅度",
    "score": "评分",
    "peak_ts": "峰值时刻",
    "prev": "上一页",
    "next": "下一页",
    "page_of": "第 {page} / {pages} 页",
    "rows_shown": "符合条件 {shown} 条，共 {total} 条",
    "page_size": "每页行数",
    "details": "详情",
    "no_match": "没有符合筛选条件的异常。",
    "js_needed": "异常清单需要启用 JavaScript；上方的概览和详情卡片无需脚本即可查看严重异常。",
    "serious_title": "严重异常",
    "serious_intro": "最严重的 {n} 条异常（共 {total} 条），附异常时段曲线和期望范围。",
    "chart_observed": "实测",
    "chart_band": "期望范围",
    "chart_window": "异常时段",
    "no_chart": "未保留该异常的曲线数据。",
    "detector_action": "检测器说明",
    "changes_title": "同比变化显著的设备",
    "changes_intro": "最大的 {n} 项显著变化（共 {total} 项）：本年与对比年份。",
    "monthly": "月度",
    "daily_profile": "典型日负荷曲线",
    "hour": "时",
    "month": "月",
    "this_year": "本年",
    "run_title": "运行信息",
    "timings": "耗时",
    "seconds": "{s} 秒",
    "findings_count": "{n} 条异常",
    "go_table": "在清单中查看",
    "footer": "本报告为单一文件，可离线打开，数据不会外传。",
}

_SEVERITY = {
    "en": {"critical": "critical", "warning": "warning", "info": "info"},
    "zh-CN": {"critical": "严重", "warning": "警告", "info": "提示"},
}

_STATUS = {
    "en": {"new": "new", "recurring": "recurring", "resolved": "resolved"},
    "zh-CN": {"new": "新增", "recurring": "持续", "resolved": "已消除"},
}

_CHANGE_CLASS = {
    "en": {
        "growth": "growth", "decline": "decline", "step_change": "step change",
        "peak_shift": "peak shift", "new_seasonal_pattern": "new seasonal pattern",
        "volatility": "volatility", "data_quality": "data quality", "near_zero": "near zero",
        "unchanged": "unchanged",
    },
    "zh-CN": {
        "growth": "增长", "decline": "下降", "step_change": "突变", "peak_shift": "峰值时段偏移",
        "new_seasonal_pattern": "新的季节规律", "volatility": "波动加剧",
        "data_quality": "数据质量问题", "near_zero": "接近零", "unchanged": "无变化",
    },
}

_KIND = {
    "en": {
        "gap": "gap (missing data)", "spike": "spike", "flatline": "flat / stuck value",
        "zero_consumption": "zero consumption", "negative_energy": "negative energy",
        "rollback": "register rollback", "rollover": "register rollover",
        "meter_exchange": "meter exchange", "high_usage": "high usage",
        "low_usage": "low usage", "outlier": "outlier", "seasonal_anomaly": "seasonal anomaly",
        "level_shift": "level shift", "voltage_deviation": "voltage deviation",
        "voltage_unbalance": "voltage unbalance", "phase_loss": "phase break",
        "voltage_loss": "loss of voltage", "current_loss": "loss of current",
        "current_unbalance": "current unbalance", "heavy_load": "heavy load",
        "overload": "overload", "low_power_factor": "low power factor",
        "line_loss": "line loss", "theft_risk": "theft risk",
    },
    "zh-CN": {
        "gap": "数据缺失", "spike": "尖峰", "flatline": "数据不变（卡值）",
        "zero_consumption": "零电量", "negative_energy": "负电量", "rollback": "示数倒走",
        "rollover": "示数翻转", "meter_exchange": "换表", "high_usage": "用电量偏高",
        "low_usage": "用电量偏低", "outlier": "离群值", "seasonal_anomaly": "时段规律异常",
        "level_shift": "用电水平突变", "voltage_deviation": "电压偏差",
        "voltage_unbalance": "三相电压不平衡", "phase_loss": "断相", "voltage_loss": "失压",
        "current_loss": "失流", "current_unbalance": "三相电流不平衡", "heavy_load": "重载",
        "overload": "过载", "low_power_factor": "功率因数偏低", "line_loss": "台区线损异常",
        "theft_risk": "窃电嫌疑",
    },
}

# Per-kind field action in Chinese; English keeps the detector's own (more specific) text.
_ACTION = {
    "en": {},
    "zh-CN": {
        "gap": "检查采集通道（集中器、通信模块、主站），并从电能表负荷曲线中补抄缺失数据。",
        "spike": "与当日表码核对该时段电量；表码不支持时按估算处理，并检查电能表时钟和软件。",
        "flatline": "现场检查电能表或传感器：示数不变可能是计量元件停走或通信重复上报。",
        "zero_consumption": "核实是否停电或销户（停电记录、停复电工单）；否则现场检查电能表和接线"
                            "（旁路、计量元件停走）。",
        "negative_energy": "现场检查电能表接线（进出线接反或电流互感器极性），并确认是否有分布式电源。",
        "rollback": "现场抄读表码并与主站核对；示数倒走可能是表计故障或人为篡改。",
        "rollover": "确认表码位数设置正确；翻转属正常现象，无需现场处理。",
        "meter_exchange": "在工单系统中确认换表记录，并登记旧表止码。",
        "high_usage": "向客户了解用电变化；无合理原因时现场核查电能表及接线。",
        "low_usage": "向客户了解用电变化；无合理原因时现场核查电能表（用电量骤降可能是旁路窃电）。",
        "outlier": "与电能表或传感器核对该读数；读数真实时了解当时的运行情况。",
        "seasonal_anomaly": "与客户或线路的运行计划核对；时段规律异常可能是用电方式改变或计量问题。",
        "level_shift": "了解客户在该日期是否改变用电；否则现场检查电能表和接线。",
        "voltage_deviation": "检查配变分接头位置、低压线路长度和负荷分布；核对电压监测点数据。",
        "voltage_unbalance": "检查单相负荷分布和中性线连接（中性线断线或接触不良会引起电压偏移）。",
        "phase_loss": "恢复该相供电：检查低压熔断器/开关及该相导线。",
        "voltage_loss": "检查该相电压回路（端子排、熔断器、接线）。",
        "current_loss": "检查该相电流互感器及二次回路（开路、短接、旁路）。",
        "current_unbalance": "将单相用户从最重相调整到最轻相；检查中性线及其连接。",
        "heavy_load": "规划增容（负荷增长）；关注下一个用电高峰的过载风险。",
        "overload": "转移负荷或增容（更换大容量配变或加装配变）；按 IEC 60076-7 检查油温和绕组温度。",
        "low_power_factor": "检查无功补偿装置（电容器组熔丝、接触器、控制器定值）及新增感性负荷。",
        "line_loss": "现场检查嫌疑电能表（封印、接线、旁路），再排查低压线路私接乱拉；"
                     "线损为负时核对户变关系、互感器倍率和表计时钟。",
        "theft_risk": "现场检查电能表：封印、端子盖、接线和电流互感器接线、旁路；用便携式标准表比对。",
    },
}

_METRIC = {
    "en": {},
    "zh-CN": {
        "energy_kwh": "有功电量", "energy_export_kwh": "反向有功电量", "register_kwh": "有功总示数",
        "register_kwh_t1": "尖时段示数", "register_kwh_t2": "峰时段示数",
        "register_kwh_t3": "平时段示数", "register_kwh_t4": "谷时段示数",
        "voltage_v_a": "A相电压", "voltage_v_b": "B相电压", "voltage_v_c": "C相电压",
        "current_a_a": "A相电流", "current_a_b": "B相电流", "current_a_c": "C相电流",
        "current_a_n": "零线电流", "active_power_kw": "有功功率", "power_factor": "功率因数",
        "load_kva": "视在负荷", "oil_temp_c": "顶层油温", "ambient_temp_c": "环境温度",
    },
}

CATALOGUE: dict[str, dict[str, dict[str, str]]] = {
    lang: {
        "ui": ui,
        "severity": _SEVERITY[lang],
        "status": _STATUS[lang],
        "change_class": _CHANGE_CLASS[lang],
        "kind": _KIND[lang],
        "action": _ACTION[lang],
        "metric": _METRIC[lang],
    }
    for lang, ui in (("en", _EN_UI), ("zh-CN", _ZH_UI))
}


def catalogue(lang: str) -> dict[str, dict[str, str]]:
    """The messages of one language; an unknown code is a usage error naming the choices."""
    try:
        return CATALOGUE[lang]
    except KeyError:
        raise ConfigError(
            f"report language {lang!r} is not available; use one of {sorted(CATALOGUE)} "
            "(--lang en or --lang zh-CN)"
        ) from None


def label(messages: dict[str, dict[str, str]], section: str, code: str | None) -> str:
    """Translated label of a code (kind, severity, ...); the code itself when not catalogued."""
    if code is None:
        return messages["ui"]["none"]
    return messages[section].get(code, code)
