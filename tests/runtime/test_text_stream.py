from runtime.text_stream import StopScanner, Utf8Assembler


def feed_all(scanner: StopScanner, pieces: list[str]) -> str:
    return "".join(scanner.feed(p) for p in pieces) + scanner.flush()


def test_stop_split_across_pieces_is_caught() -> None:
    scanner = StopScanner(stops=["<|turn_end|>"])
    assert feed_all(scanner, ["Paris is", " the capital<|tu", "rn_end|> trailing"]) == (
        "Paris is the capital"
    )
    assert scanner.stopped


def test_text_resembling_a_stop_prefix_is_released() -> None:
    scanner = StopScanner(stops=["<|turn_end|>"])
    assert feed_all(scanner, ["a <|t", "able|> b"]) == "a <|table|> b"


def test_earliest_stop_wins() -> None:
    scanner = StopScanner(stops=["STOP", "END"])
    assert feed_all(scanner, ["one END two STOP"]) == "one "


def test_utf8_split_across_tokens() -> None:
    data = "héllo ✓".encode()
    assembler = Utf8Assembler()
    text = "".join(assembler.feed(data[i : i + 1]) for i in range(len(data))) + assembler.flush()
    assert text == "héllo ✓"
