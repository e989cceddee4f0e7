"""Kokoro without the model: pack files in every upstream format, catalogue entries, phoneme ids
(espeak-ng's tied phonemes as Kokoro's symbols), and the join of the split model (hash-checked) on synthetic parts."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pytest

from voice.engines import espeak, kokoro
from voice.runtime.models import ModelCorrupt, assemble_kokoro, kokoro_data_dir


def _pack(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.3, (510, 1, 256)).astype(np.float32)


def _torch_file(path, array: np.ndarray, name: str = "af_test") -> None:
    """The layout torch.save writes: <name>/data.pkl (refers to FloatStorage), <name>/data/0."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}/data.pkl", b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nctorch\nFloatStorage\n.")
        zf.writestr(f"{name}/byteorder", b"little")
        zf.writestr(f"{name}/data/0", array.astype("<f4").tobytes())
        zf.writestr(f"{name}/version", b"3\n")
        zf.writestr(f"{name}/.data/serialization_id", b"0123")


def test_every_pack_format(tmp_path):
    a, b = _pack(1), _pack(2)
    np.savez(tmp_path / "voices.npz", ef_one=a, im_two=b)
    np.savez(tmp_path / "voices-v1.0.npz", af_x=a)
    (tmp_path / "voices-v1.0.npz").rename(tmp_path / "voices-v1.0.bin")  # kokoro-onnx ships an npz as .bin
    np.save(tmp_path / "pf_single.npy", a)
    a.astype("<f4").tofile(tmp_path / "bf_raw.bin")  # onnx-community's raw float32
    _torch_file(tmp_path / "af_heart.pt", b)
    packs = kokoro.read_packs(tmp_path / "voices.npz")
    assert sorted(packs) == ["ef_one", "im_two"] and packs["ef_one"].shape == (510, 256)
    assert np.array_equal(packs["im_two"], b.reshape(510, 256))
    assert list(kokoro.read_packs(tmp_path / "voices-v1.0.bin")) == ["af_x"]
    assert np.array_equal(kokoro.read_packs(tmp_path / "pf_single.npy")["pf_single"], a.reshape(510, 256))
    assert np.array_equal(kokoro.read_packs(tmp_path / "bf_raw.bin")["bf_raw"], a.reshape(510, 256))
    assert np.array_equal(kokoro.read_packs(tmp_path / "af_heart.pt")["af_heart"], b.reshape(510, 256))
    assert kokoro.pack_names(tmp_path / "voices.npz") == ["ef_one", "im_two"]
    assert kokoro.pack_names(tmp_path / "af_heart.pt") == ["af_heart"]


def test_bad_packs_are_rejected_with_the_reason(tmp_path):
    np.zeros(1000, np.float32).tofile(tmp_path / "short.bin")
    with pytest.raises(kokoro.PackError, match="522240 bytes"):
        kokoro.read_packs(tmp_path / "short.bin")
    np.save(tmp_path / "f64.npy", _pack().astype(np.float64))
    with pytest.raises(kokoro.PackError, match="float32"):
        kokoro.read_packs(tmp_path / "f64.npy")
    np.save(tmp_path / "shape.npy", np.zeros((256, 510), np.float32) + 0.2)
    with pytest.raises(kokoro.PackError, match="shape"):
        kokoro.read_packs(tmp_path / "shape.npy")
    bad = _pack()
    bad[3, 0, 7] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(kokoro.PackError, match="NaN"):
        kokoro.read_packs(tmp_path / "nan.npy")
    np.save(tmp_path / "zeros.npy", np.zeros((510, 1, 256), np.float32))
    with pytest.raises(kokoro.PackError, match="range"):
        kokoro.read_packs(tmp_path / "zeros.npy")
    (tmp_path / "text.pt").write_text("not a torch file")
    with pytest.raises(kokoro.PackError, match=r"\.pt"):
        kokoro.read_packs(tmp_path / "text.pt")
    with zipfile.ZipFile(tmp_path / "half.pt", "w") as zf:
        zf.writestr("x/data.pkl", b"FloatStorage")
        zf.writestr("x/data/0", b"\0" * 400)
    with pytest.raises(kokoro.PackError, match="values"):
        kokoro.read_packs(tmp_path / "half.pt")
    np.savez(tmp_path / "mixed.npz", ok=_pack(), bad=np.zeros(3, np.float32))
    with pytest.raises(kokoro.PackError, match=r"mixed.npz\[bad\]"):
        kokoro.read_packs(tmp_path / "mixed.npz")


def test_catalogue_entries_per_pack_and_language(tmp_path):
    np.savez(tmp_path / "v.npz", jf_alpha=_pack(), ef_dora=_pack(1), custom=_pack(2))
    (tmp_path / "hm_x.npy").write_bytes(b"")  # names only: not read here
    np.save(tmp_path / "hm_x.npy", _pack(3))
    voices = {v.name: v for v in kokoro.kokoro_voices([tmp_path / "v.npz", tmp_path / "hm_x.npy"],
                                                      ("es", "fr-FR", "ja"))}
    # a Japanese pack: no espeak-ng Japanese, so only the asked languages, all accented
    assert {n for n in voices if "jf_alpha" in n} == {"kokoro-jf_alpha-es", "kokoro-jf_alpha-fr-FR"}
    assert voices["kokoro-jf_alpha-es"].accented and voices["kokoro-jf_alpha-es"].label == "neural, accented"
    # a Spanish pack is native in Spanish
    dora = voices["kokoro-ef_dora-es"]
    assert not dora.accented and dora.label == "neural" and dora.espeak_voice == "es"
    assert dora.sample_rate == 24000 and dora.engine == "kokoro" and dora.pack == "ef_dora"
    # its own language comes first even when not asked for: Hindi
    assert "kokoro-hm_x-hi" in voices and not voices["kokoro-hm_x-hi"].accented
    # an unknown name is accented everywhere, until a sidecar says its language
    assert voices["kokoro-custom-es"].accented
    (tmp_path / "v.npz.json").write_text(json.dumps({"language": "es"}))
    voices = {v.name: v for v in kokoro.kokoro_voices([tmp_path / "v.npz"], ("es",))}
    assert not voices["kokoro-custom-es"].accented


def test_phoneme_ids_keep_what_the_vocabulary_has():
    vocab = {" ": 16, "o": 57, "\u0303": 17, "ç": 78, "c": 45, "a": 43}
    # NFC keeps ç (in the vocabulary); õ (not in it) is decomposed into o + combining tilde
    assert kokoro.to_ids("ço\u0303", vocab) == [78, 57, 17]
    assert kokoro.to_ids("\u00f5", vocab) == [57, 17]
    assert kokoro.to_ids("c\u0327a", vocab) == [78, 43]  # decomposed input composes first
    assert kokoro.to_ids("x?a", vocab) == [43]  # unknown characters are dropped


def test_tied_phonemes_become_kokoros_symbols():
    # affricates and diphthongs as the single symbols Kokoro learnt (misaki's EspeakG2P)
    assert kokoro.untie("d^ʒˈɔɾno ɡɾˈat^sje d^zˈɛro t^ʃˈinkwe pˈɔs^so") == "ʤˈɔɾno ɡɾˈaʦje ʣˈɛro ʧˈinkwe pˈɔSo"
    assert kokoro.untie("a^ɪ a^ʊ e^ɪ o^ʊ ə^ʊ ɔ^ɪ") == "I W A O Q Y"
    assert kokoro.untie("nɐ̃^ʊ̃ fɔː^ɹ") == "nɐ̃ʊ̃ fɔːɹ"  # other ties are dropped, the letters kept
    assert kokoro.untie("ts dʒ aɪ") == "ts dʒ aɪ"  # untied letters are two phonemes: left alone
    vocab = kokoro.load_vocab(kokoro_data_dir() / "vocab.json")  # the embedded model's
    assert all(symbol in vocab for _tied, symbol in kokoro.TIED)
    assert all(ch in vocab for pairs in kokoro.NEAREST.values() for _sym, near in pairs for ch in near)


def test_nearest_symbols_by_language():
    # Italian: no lax vowels (espeak-ng's unstressed ɪ/ʊ are i/u), ʎ as l + j
    assert kokoro.untie("mɪ skˈuzɪ, le lˈɛɡːo ʎɪ bʊond^ʒˈɔɾno", "it") == "mi skˈuzi, le lˈɛɡːo lji buonʤˈɔɾno"
    # elsewhere they are the language's own sounds (Brazilian reduced vowels, Spanish ll)
    assert kokoro.untie("pˌɔd^ʒɪ mˈomʊ", "pt-br") == "pˌɔʤɪ mˈomʊ"
    assert kokoro.untie("ʎamˈaɾ", "es") == "ʎamˈaɾ"
    # Italian word-final stress said long; earlier stress, other languages: unchanged
    assert kokoro.untie("maɾtedˈi, puˈɔ tɾˈe kˈome", "it") == "maɾtedˈiː, puˈɔː tɾˈeː kˈome"
    assert kokoro.untie("tɾˈeː", "it") == "tɾˈeː"
    assert kokoro.untie("maɾtedˈi", "es") == "maɾtedˈi"
    assert kokoro.untie("ʎɪ") == "ʎɪ"


@pytest.mark.parametrize("voice,text", [
    ("it", "Buongiorno e grazie! Mi scusi, può ripetere? Ha 3 messaggi; 12 chiamate: martedì... fine"),
    ("pt-br", "Não entendi. Pode repetir, por favor?"),
    ("de", "Ein Tausend zweihundert Euro, um 14:30 Uhr."),
    ("en-us", "How can I help you today? Your checking account."),
])
def test_tied_phonemes_are_the_bridges_clauses_with_ties(voice, text):
    tied = espeak.phonemes(voice, text, tie="^")
    assert [(ph.replace("^", ""), term, end) for ph, term, end in tied] == espeak.phonemes(voice, text)
    assert any("^" in ph for ph, _term, _end in tied)


def test_italian_clauses_keep_affricates_and_geminates():
    ipa = " ".join(kokoro.clauses("it", "Buongiorno e grazie. Il suo appuntamento è martedì 5 marzo."))
    assert "ʤ" in ipa and "ʦ" in ipa and "ʧ" in ipa and "pː" in ipa and "ˈ" in ipa and "^" not in ipa
    assert "ɪ" not in ipa and "ʊ" not in ipa
    assert ipa.endswith(".")


def test_batches_stay_under_the_context():
    clause = [1] * 300
    out = kokoro.batches([clause, [2] * 100, [3] * 250], space=16, limit=500)
    assert [len(b) for b in out] == [401, 250] and all(len(b) <= 500 for b in out)
    long = ([5] * 99 + [16]) * 8  # one 800-id clause with spaces
    out = kokoro.batches([long], space=16, limit=500)
    assert all(len(b) <= 500 for b in out) and sum(len(b) for b in out) >= 790


def test_espeak_voices_for_kokoro_languages():
    assert kokoro.espeak_voice_for("pt-BR") == "pt-br"
    assert kokoro.espeak_voice_for("pt") == "pt"
    assert kokoro.espeak_voice_for("en-GB") == "en"
    assert kokoro.espeak_voice_for("fr-FR") == "fr"
    assert kokoro.espeak_voice_for("ja") == "" and kokoro.espeak_voice_for("zh-CN") == ""
    assert kokoro.native_language("pf_dora") == "pt-BR" and kokoro.native_language("my_voice") == ""


def test_join_is_verified_by_hash(tmp_path):
    parts = []
    for i in range(4):
        part = tmp_path / f"part{i}.bin"
        part.write_bytes(bytes([i]) * (1000 + i))
        parts.append(part)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()
    cache = tmp_path / "cache"
    model = assemble_kokoro(cache, parts, digest)
    assert model.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert assemble_kokoro(cache, parts, digest) == model  # reused (stamp)
    # a corrupt part: rejected, and nothing half-written is left in the cache
    with pytest.raises(ModelCorrupt, match="SHA-256"):
        assemble_kokoro(tmp_path / "other", [*parts[:3], parts[0]], digest)
    assert not list((tmp_path / "other" / "kokoro").iterdir())
    # the cached file changed behind our back: hashed again and joined again
    model.write_bytes(b"garbage")
    assert assemble_kokoro(cache, parts, digest).read_bytes() == b"".join(p.read_bytes() for p in parts)
    sorted_names = sorted(p.name for p in (cache / "kokoro").iterdir())
    assert sorted_names == ["kokoro-v1.0.int8.onnx", "kokoro-v1.0.int8.onnx.sha256"]


def test_cuda_when_onnxruntime_has_it():
    assert kokoro.providers(True, ["CUDAExecutionProvider", "CPUExecutionProvider"])[0][0] == "CUDAExecutionProvider"
    assert kokoro.providers(True, ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert kokoro.providers(False, ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_operator_model_file_or_directory(tmp_path):
    from voice.runtime.models import ModelNotFound, kokoro_vocab_path, resolve_kokoro_model

    (tmp_path / "onnx").mkdir()
    for name in ("model_q8f16.onnx", "model.onnx"):
        (tmp_path / "onnx" / name).write_bytes(b"x")
    assert resolve_kokoro_model(str(tmp_path), tmp_path).name == "model.onnx"  # onnx-community's layout
    assert resolve_kokoro_model(str(tmp_path / "onnx" / "model_q8f16.onnx"), tmp_path).name == "model_q8f16.onnx"
    (tmp_path / "config.json").write_text(json.dumps({"vocab": {"a": 43}}))
    assert kokoro_vocab_path(tmp_path / "onnx" / "model.onnx") == tmp_path / "config.json"
    two = tmp_path / "two"
    two.mkdir()
    (two / "a.onnx").write_bytes(b"x")
    (two / "b.onnx").write_bytes(b"x")
    with pytest.raises(ModelNotFound, match="several"):
        resolve_kokoro_model(str(two), tmp_path)
    with pytest.raises(ModelNotFound, match="neither"):
        resolve_kokoro_model(str(tmp_path / "nope"), tmp_path)
