"""The augmentation spec, its string form and the presets (pure Python, no backend work)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_cnnlab.augment import FACTORS, PRESETS, TOKENS, AugmentSpec, parse_augment_spec
from keras_cnnlab.augment.presets import resolve_spec

pytestmark = pytest.mark.multibackend


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Specs create no Keras state: skip the suite's per-test session reset."""
    yield


def _factor_values(factor):
    high = factor.high if factor.high_inclusive else factor.high - 1e-3
    return st.one_of(st.just(0.0), st.floats(0.0, high, allow_nan=False))


@st.composite
def specs(draw):
    """Any valid spec, drawn field by field from the documented ranges."""
    return AugmentSpec(
        flip=draw(st.sampled_from([None, "horizontal", "vertical", "horizontal_and_vertical"])),
        fill_mode=draw(st.sampled_from(["reflect", "constant", "nearest", "wrap"])),
        **{name: draw(_factor_values(f)) for name, f in FACTORS.items()},
    )


# --- the string form ----------------------------------------------------------------


def test_tutorial_string_is_the_standard_preset():
    spec = parse_augment_spec("flip-rot0.1-zoom0.1-contrast0.2")
    assert spec == AugmentSpec(flip="horizontal", rotation=0.1, zoom=0.1, contrast=0.2)
    assert spec == PRESETS["standard"].spec
    assert spec.to_string() == "flip-rot0.1-zoom0.1-contrast0.2"


def test_every_token_reads_into_its_field():
    spec = parse_augment_spec("hvflip-rot0.2-zoom0.3-shift0.15-contrast0.4-bright0.25-erase0.5-fillnearest")
    assert spec == AugmentSpec(
        flip="horizontal_and_vertical", rotation=0.2, zoom=0.3, translation=0.15,
        contrast=0.4, brightness=0.25, erasing=0.5, fill_mode="nearest",
    )
    assert parse_augment_spec("vflip").flip == "vertical"
    assert parse_augment_spec("rot.5").rotation == 0.5


@given(specs())
def test_to_string_reads_back_to_the_same_spec(spec):
    text = spec.to_string()
    assert re.fullmatch(r"[a-z0-9.\-]+", text)
    if spec.is_identity:
        assert text == "none"
    else:
        assert parse_augment_spec(text) == spec


def test_a_preset_name_may_come_first_and_tokens_change_it():
    spec = parse_augment_spec("digits-rot0.15-erase0.1")
    expected = dict(PRESETS["digits"].spec.get_config(), rotation=0.15, erasing=0.1)
    assert spec.get_config() == expected
    assert parse_augment_spec("standard-zoom0") == AugmentSpec(flip="horizontal", rotation=0.1, contrast=0.2)
    assert parse_augment_spec("none").is_identity


def test_unknown_token_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown token 'blur0.1'") as error:
        parse_augment_spec("flip-blur0.1")
    message = str(error.value)
    for token in TOKENS:
        assert token in message
    assert "digits" in message  # presets are listed too


def test_preset_name_not_first_is_explained():
    with pytest.raises(ValueError, match="can only come first"):
        parse_augment_spec("flip-digits")


@pytest.mark.parametrize(
    "text, match",
    [
        ("rot0.9", r"`rotation` must be in \[0, 0.5\].*Received rotation=0.9"),
        ("zoom1", r"`zoom` must be in \[0, 1\)"),
        ("contrast1.5", r"`contrast` must be in \[0, 1\]"),
        ("rot", r"needs a factor glued on, e.g. 'rot0.1'"),
        ("flip0.5", r"'flip' takes no number"),
        ("fillconstant2", r"takes no number"),
        ("rot0.1-rot0.2", r"sets `rotation` twice"),
        ("flip-vflip", r"sets `flip` twice"),
        ("", r"Expected a spec string"),
        ("rot-0.1", r"'rot' in augmentation spec 'rot-0.1' needs a factor"),
    ],
)
def test_bad_strings_name_the_problem(text, match):
    with pytest.raises(ValueError, match=match):
        parse_augment_spec(text)


# --- the spec -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(rotation=0.6), r"`rotation`. Expected a number in \[0, 0.5\].*Received rotation=0.6"),
        (dict(zoom=-0.1), r"`zoom`.*Received zoom=-0.1"),
        (dict(erasing="a lot"), r"`erasing`.*Received erasing='a lot'"),
        (dict(flip="sideways"), r"`flip`. Expected one of"),
        (dict(fill_mode="mirror"), r"`fill_mode`. Expected one of"),
    ],
)
def test_spec_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AugmentSpec(**kwargs)


@given(specs(), st.floats(0.0, 1.0))
def test_strength_scales_every_factor(spec, strength):
    scaled = spec.scaled(strength)
    for name in FACTORS:
        assert scaled.get_config()[name] == pytest.approx(spec.get_config()[name] * strength, abs=1e-6)
    assert scaled.flip == (spec.flip if strength > 0 else None)
    assert scaled.fill_mode == spec.fill_mode


def test_strength_zero_is_the_identity_and_one_is_the_preset():
    for preset in PRESETS.values():
        assert preset.spec.scaled(0).is_identity
        assert preset.spec.scaled(1) == preset.spec


def test_strength_that_leaves_the_range_names_factor_and_limit():
    with pytest.raises(ValueError, match=r"strength=4 scales `rotation` from 0.15 to 0.6.*at most 3.33"):
        PRESETS["strong"].spec.scaled(4)
    with pytest.raises(ValueError, match=r"`strength`. Expected a number >= 0"):
        PRESETS["strong"].spec.scaled(-1)


def test_strength_limit_is_the_tightest_factor_and_honours_an_open_range():
    # zoom's range is [0, 1): zoom 0.1 allows strengths below 10, not 10 itself.
    with pytest.raises(ValueError, match=r"from 0.1 to 1, outside its valid range \[0, 1\)\. Use a strength below 10 "):
        parse_augment_spec("zoom0.1").scaled(10)
    # The limit named is the one of the factor that leaves its range first (rotation 0.5).
    spec = parse_augment_spec("rot0.1-zoom0.1")
    with pytest.raises(ValueError, match=r"strength at most 5 \(where `rotation` reaches 0.5\)"):
        spec.scaled(10)
    assert spec.scaled(5).rotation == 0.5  # the limit quoted is allowed


def test_replace_rejects_unknown_factors():
    with pytest.raises(ValueError, match=r"Unknown augmentation factor\(s\) \['rotate'\]. Valid names: flip, rotation"):
        AugmentSpec().replace(rotate=0.1)
    assert AugmentSpec(rotation=0.1).replace(rotation=None).is_identity


def test_uses_value_range_when_a_transform_clips_or_fills_with_it():
    assert not PRESETS["light"].spec.uses_value_range  # flip, rotation, zoom: no clipping
    assert PRESETS["standard"].spec.uses_value_range  # contrast clips
    assert PRESETS["digits"].spec.uses_value_range
    assert AugmentSpec(rotation=0.1, fill_mode="constant").uses_value_range
    assert not AugmentSpec(flip="horizontal", fill_mode="constant").uses_value_range


def test_describe_names_the_keras_layers():
    assert PRESETS["standard"].spec.describe() == [
        "RandomFlip('horizontal')", "RandomRotation(0.1)", "RandomZoom(0.1)", "RandomContrast(0.2)",
    ]


# --- presets ------------------------------------------------------------------------


def test_the_documented_presets_exist_with_their_factors():
    assert list(PRESETS) == ["none", "light", "standard", "strong", "digits"]
    assert PRESETS["none"].factors == {}
    assert PRESETS["standard"].factors == {
        "flip": "horizontal", "rotation": 0.1, "zoom": 0.1, "contrast": 0.2,
    }
    strong = PRESETS["strong"].factors
    assert {"translation", "brightness", "erasing"} <= set(strong)
    for name, value in PRESETS["standard"].factors.items():
        if name != "flip":
            assert strong[name] >= value  # strong is at least standard, everywhere
    assert "flip" not in PRESETS["digits"].factors
    assert all(p.description for p in PRESETS.values())


def test_resolve_spec_accepts_names_strings_and_specs():
    assert resolve_spec("Standard") == PRESETS["standard"].spec
    assert resolve_spec(PRESETS["light"]) == PRESETS["light"].spec
    assert resolve_spec("flip-rot0.1") == AugmentSpec(flip="horizontal", rotation=0.1)
    spec = AugmentSpec(zoom=0.2)
    assert resolve_spec(spec) is spec


def test_unknown_preset_lists_the_valid_ones_and_suggests():
    with pytest.raises(ValueError, match=r"Unknown augmentation preset 'standrad'. Did you mean 'standard'\?") as error:
        resolve_spec("standrad")
    for name in PRESETS:
        assert repr(name) in str(error.value)
    with pytest.raises(ValueError, match="Expected a preset name"):
        resolve_spec(3)
