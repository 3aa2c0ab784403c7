from quote_service.submit.numbering import format_number


def test_numbers_have_four_digits_and_grow_past_9999():
    assert format_number(2026, 1) == "Q-2026-0001"
    assert format_number(2026, 9999) == "Q-2026-9999"
    assert format_number(2026, 10000) == "Q-2026-10000"
