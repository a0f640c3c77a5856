import pytest

from domain.phone import InvalidMsisdn, normalise_msisdn


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+254700000109", "KE", "+254700000109"),
        ("254700000109", "KE", "+254700000109"),
        (" 254700000109", "KE", "+254700000109"),  # "+" form-decoded to a space
        ("0700000109", "KE", "+254700000109"),
        ("+254 700 000 109", "KE", "+254700000109"),
        ("+256770000112", "KE", "+256770000112"),  # Uganda, from a Kenyan default
        ("256770000112", "KE", "+256770000112"),
        ("0740000113", "TZ", "+255740000113"),
        ("+8613800138000", "KE", "+8613800138000"),
    ],
)
def test_normalises_to_e164(raw: str, region: str, expected: str) -> None:
    assert normalise_msisdn(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "   ", "abc", "+", "12", "0" * 40, "+2547000001091234567"])
def test_rejects_impossible_numbers(raw: str) -> None:
    with pytest.raises(InvalidMsisdn):
        normalise_msisdn(raw, "KE")
