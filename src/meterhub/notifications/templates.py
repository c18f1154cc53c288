"""Message texts, English and Simplified Chinese. Placeholders are filled by render().

Kept here, not in the .po file: SMS gateways in China approve template texts word for
word, so the text sent must be exactly the one registered, whatever the console's language.
"""

from __future__ import annotations

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    # name: {language: (subject, body)}
    "alarm_raised": {
        "en": ("[{severity}] {kind} at {where}",
               "[meterhub] {severity}: {kind} at {where} ({site}), {time}. Alarm #{alarm_id}."),
        "zh-hans": ("【{severity}】{where}{kind}",
                    "【meterhub】{severity}：{site} {where} {kind}，时间 {time}。告警编号 {alarm_id}。"),
    },
    "alarm_escalated": {
        "en": ("Unacknowledged: {kind} at {where}",
               "[meterhub] Not acknowledged since {time}: {kind} at {where} ({site}). Alarm #{alarm_id}."),
        "zh-hans": ("未确认告警：{where}{kind}",
                    "【meterhub】自 {time} 起无人确认：{site} {where} {kind}。告警编号 {alarm_id}。"),
    },
    "alarm_cleared": {
        "en": ("Cleared: {kind} at {where}", "[meterhub] Cleared: {kind} at {where} ({site}), {time}."),
        "zh-hans": ("已解除：{where}{kind}", "【meterhub】已解除：{site} {where} {kind}，时间 {time}。"),
    },
    # customer portal one-time codes (portal.codes)
    "portal_sign_in_code": {
        "en": ("Sign-in code", "[meterhub] Your sign-in code is {code}. It expires in {minutes} minutes. "
                               "Never tell anyone this code."),
        "zh-hans": ("登录验证码", "【meterhub】您的登录验证码为 {code}，{minutes} 分钟内有效。请勿告诉他人。"),
    },
    "portal_bind_code": {
        "en": ("Account binding code", "[meterhub] Code {code} binds account {account} to a phone in the customer "
                                       "portal. It expires in {minutes} minutes. Not you? Ignore this message."),
        "zh-hans": ("账户绑定验证码", "【meterhub】验证码 {code}，用于在客户门户绑定户号 {account}，{minutes} 分钟内有效。"
                                     "如非本人操作，请忽略本短信。"),
    },
}

SEVERITY_WORDS = {
    "en": {"critical": "CRITICAL", "major": "Major", "minor": "Minor", "info": "Info"},
    "zh-hans": {"critical": "紧急", "major": "重要", "minor": "次要", "info": "提示"},
}


def language_of(code: str) -> str:
    return "zh-hans" if (code or "").lower().startswith("zh") else "en"


def render(name: str, language: str, **values) -> tuple[str, str]:
    """(subject, body) of a template in a language (anything not Chinese is English)."""
    language = language_of(language)
    subject, body = TEMPLATES[name][language]
    values = {**values, "severity": SEVERITY_WORDS[language].get(values.get("severity", ""), "")}
    return subject.format(**values), body.format(**values)
