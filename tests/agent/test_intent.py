"""The rule-decided kinds of message, recognised by kind in any wording, English and Chinese.

None of these sentences is in a dev set: the rules must cover the kind, not the examples.
"""

from __future__ import annotations

import pytest

from agent.intent import decision_prior

KINDS = {
    "chit-chat": [
        "Thanks, see you tomorrow!",
        "thank you so much for your help :)",
        "Hello there, how's it going?",
        "Good evening! How was your day?",
        "Bye bye, take care!",
        "ok, got it, thanks",
        "Cheers mate",
        "你好",
        "您好！",
        "谢谢你的帮助！",
        "非常感谢！明天见。",
        "早上好，你最近怎么样？",
        "再见啦",
        "好的，谢谢",
        "嗨，你好吗？",
        # Thanks or a farewell with a statement that asks nothing, a time word included.
        "Thanks, I'll try that tomorrow",
        "cheers, that's all for today",
        "ok thanks, I'll check the news later",
        "Great, that worked! Thanks",
        "谢谢，今天就到这里",
        "好的，谢谢，我明天再试试",
    ],
    "arithmetic": [
        "What's 45 divided by 9?",
        "calculate 3.5 * 12",
        "how much is 2 to the power of 10?",
        "If I read 12 pages a day for 5 days, how many pages is that?",
        "A box holds 24 cans. How many cans are in 7 boxes in total?",
        "I walk three miles every day for two weeks. How many miles altogether?",
        "17 乘以 23 等于多少？",
        "计算 144 除以 12",
        "三加五等于几？",
        "如果我每天写 5 篇笔记，连续 4 周，一共写多少篇？",
        "每箱有 12 瓶水，7 箱一共多少瓶？",
    ],
    "translation": [
        "How do you say 'good luck' in German?",
        "Translate this into French: the cat is on the table.",
        "What does 'merci beaucoup' mean in English?",
        "please translate 'see you soon' to Japanese",
        "'Good luck' in Italian?",
        "把“谢谢你的帮助”翻译成英文。",
        "“早上好”用西班牙语怎么说？",
        "'good night' 的日语是什么？",
        "请翻译：The weather is nice today.",
    ],
    "creative": [
        "Compose a limerick about a cat who codes.",
        "Can you write me a poem about the sea?",
        "Tell me a joke about programmers",
        "Write a short toast for my sister's wedding.",
        "写一首关于秋天的诗",
        "给我讲个笑话吧",
        "帮我编一个关于小猫的故事",
        "写一段生日祝福",
    ],
    "time-sensitive": [
        "What's the weather in Paris tomorrow?",
        "Who won the match yesterday?",
        "今天的新闻有什么？",
        "最新的 Python 版本是多少？",
        "现在比特币的价格是多少？",
        # Thanks, then a request: not a closing.
        "Thanks, I'd like today's exchange rate for the dollar",
        "thanks! what about the latest version?",
        "谢谢，我想知道今天的新闻",
    ],
}

MUST_GO_TO_THE_MODEL = [
    "How long does git gc wait before pruning?",
    "标准 logging 里最严重的日志级别对应的数值是多少？",
    "hashlib 里的 BLAKE2b 最长能生成多少字节的摘要？",
    "zoneinfo 模块是在哪个 Python 版本加入的？",
    "How many bytes does hashlib.blake2b produce with digest_size 32 and 2 rounds?",
    "If I pass maxsize=256 to lru_cache, how many entries can it hold at most per 2 calls?",
    "How do I translate a string with the gettext module?",
    "Thanks! What is the default timeout of sqlite3.connect?",
    "Hi, what does git rebase --onto do?",
    "Tell me about the note on thread safety in the logging docs",
    "Give me the error message text for a missing key",
    "gettext 模块怎么翻译字符串？",
    "谢谢！那 json.dumps 的 indent 参数默认是多少？",
    "How many arguments does str.split take?",
    "Is the git manual available in Japanese?",
    "'good luck' stickers: where can I buy them?",
    "Thanks, and the default port of nntplib",  # no statement of the user's: a question
    "Thanks, I need the rebase docs",
    "Thanks, but it still fails with a permission error",  # a problem, not a goodbye
    "谢谢，不过我这里还是报错",
]


@pytest.mark.parametrize(
    ("kind", "message"), [(kind, m) for kind, messages in KINDS.items() for m in messages]
)
def test_each_kind_is_recognised_in_any_wording(kind, message):
    assert decision_prior(message).kind == kind


@pytest.mark.parametrize("message", MUST_GO_TO_THE_MODEL)
def test_questions_the_rules_do_not_cover_go_to_the_model(message):
    assert decision_prior(message).kind == "none"
