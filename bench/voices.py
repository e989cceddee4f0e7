"""Which voice do callers understand? Round-trip WER of every installed voice, per language.

    .venv/bin/python bench/voices.py [--languages en,es,fr,it,pt,de] [--voices NAME,...]
                                     [--replies 4] [--espeak main|all|none] [--telephone]
                                     [--out voice/engines/voice_wer.json] [--ttfa]

A fixed set of prompts per language (the shipped call-centre domain's replies, in order,
slots filled, then numbers and dates; Portuguese, which the domain lacks, has the same replies
here) is synthesized by every catalogue voice that speaks the language (Piper voices, Kokoro
packs, espeak-ng; ``--espeak main`` keeps one espeak-ng voice per language and region asked
for) through the service's own path (plan -> SynthesisJob, 16 kHz LINEAR16, or 8 kHz mu-law
with ``--telephone``) and transcribed by our ASR (the engine's default Whisper, language
given). WER is over all of a language's prompts, numbers spelled out alike on both sides
(num2words) and text normalised as in the tests (case, accents, punctuation).

The table is printed and merged into ``--out`` (default: the one the catalogue ships and reads,
``voice/engines/voice_wer.json``; an operator writes ``<voices_dir>/voice_wer.json`` after
``voice voices add``): one entry per voice, so runs over some languages or voices add up.
``--ttfa`` also times, for each language's best voice, the first audio of a streamed synthesis
against a whole-sentence render with the same voice (median of 3, in-process).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

LANGUAGES = ("en", "es", "fr", "it", "pt", "de")
# the language/region each language's shipped voices are asked for (Kokoro's offers, espeak main)
MAIN_REGION = {"en": "en-US", "es": "es", "fr": "fr-FR", "it": "it", "pt": "pt-BR", "de": "de"}
NUM2WORDS = {"pt": "pt_BR"}

# slot values for the domain's reply templates
FILL = {
    "en": {"amount": "250", "time": "10:30"},
    "es": {"amount": "250", "time": "10:30"},
    "fr": {"amount": "250", "time": "10h30"},
    "it": {"amount": "250", "time": "10:30"},
    "de": {"amount": "250", "time": "10:30"},
    "pt": {"amount": "250", "time": "10:30"},
}

# numbers and dates, said the way the service's replies say them
NUMBERS = {
    "en": ["Your balance is 1,250 euros.", "Your appointment is on Tuesday, March 5, at 2:30 PM.",
           "You have 3 new messages and 12 missed calls."],
    "es": ["Su saldo es de 1.250 euros.", "Su cita es el martes 5 de marzo a las 14:30.",
           "Tiene 3 mensajes nuevos y 12 llamadas perdidas."],
    "fr": ["Votre solde est de 1 250 euros.", "Votre rendez-vous est le mardi 5 mars à 14h30.",
           "Vous avez 3 nouveaux messages et 12 appels manqués."],
    "it": ["Il suo saldo è di 1.250 euro.", "Il suo appuntamento è martedì 5 marzo alle 14:30.",
           "Ha 3 nuovi messaggi e 12 chiamate perse."],
    "pt": ["O seu saldo é de 1.250 euros.", "A sua consulta é na terça-feira, 5 de março, às 14:30.",
           "Você tem 3 mensagens novas e 12 chamadas perdidas."],
    "de": ["Ihr Kontostand beträgt 1.250 Euro.", "Ihr Termin ist am Dienstag, dem 5. März, um 14:30 Uhr.",
           "Sie haben 3 neue Nachrichten und 12 verpasste Anrufe."],
}

# Portuguese: the domain's first replies, translated (the shipped domain has no Portuguese)
PT_REPLIES = [
    "Olá, obrigado por ligar. Como posso ajudar?",
    "Desculpe, não entendi. Pode repetir, por favor?",
    "Um momento, vou consultar o saldo da sua conta corrente.",
    "Um momento, vou ler os seus últimos movimentos.",
    "De acordo, uma transferência de 250 euros. Vamos ver os detalhes.",
    "Lamento muito. Vou bloquear o seu cartão de crédito agora mesmo e enviaremos um novo.",
    "Compreendo. Vou abrir uma reclamação sobre esse pagamento e vamos verificar.",
    "Sem problema. Vou enviar um SMS com um link para redefinir a sua senha.",
    "Claro. Não desligue, vou transferir a chamada para um agente.",
    "Muito bem, a sua consulta está marcada para segunda-feira às 10:30.",
]


def domain_replies(lang: str, count: int) -> list[str]:
    """The greeting, the fallback and each intent's first response, slots filled, in file order."""
    if lang == "pt":
        return PT_REPLIES[:count]
    from voice.engines.intent.domainfile import load_dialogue

    d = load_dialogue(None)
    texts = [d.greeting.get(lang, ""), *list(d.fallback.get(lang, ()))[:1]]
    texts += [next(iter(e.responses.get(lang, ())), "") for e in d.intents.values()]
    values = {name: next(iter(v.values())) for name, v in d.spoken_values.get(lang, {}).items() if v}
    values.update(FILL[lang])
    out = []
    for t in texts:
        t = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(1)), t).strip()
        if t:
            out.append(t)
    return out[:count]


def prompts(lang: str, replies: int) -> list[str]:
    return domain_replies(lang, replies) + NUMBERS[lang]


def spell_numbers(text: str, lang: str) -> str:
    """Digits -> words in ``lang``: a number counts the same whether it is written or spelled."""
    from num2words import num2words

    text = re.sub(r"(?<=\d)[.,\u202f\u00a0 ](?=\d{3}\b)", "", text)  # thousands separators
    text = re.sub(r"(?<=\d)[:h.,](?=\d)", " ", text)  # 14:30, 14h30, 12,50
    code = NUM2WORDS.get(lang, lang)
    return re.sub(r"\d+", lambda m: f" {num2words(int(m.group()), lang=code)} ", text)


def wer(refs: list[str], hyps: list[str], lang: str) -> float:
    from voice.testing.prompts import wer as corpus_wer

    return corpus_wer([spell_numbers(r, lang) for r in refs], [spell_numbers(h, lang) for h in hyps])


def voices_for(catalogue, lang: str, espeak: str, names: set[str]) -> list:
    from voice.engines.voices import ESPEAK_ENGINE

    out = []
    for v in catalogue:
        if v.base_language != lang or (names and v.name not in names):
            continue
        if v.engine == ESPEAK_ENGINE and not names:
            if espeak == "none":
                continue
            if espeak == "main" and v.language.lower() not in (lang, MAIN_REGION[lang].lower()):
                continue
        out.append(v)
    return out


def synthesize(engine, voice, text: str, telephone: bool):
    import numpy as np

    import kernels
    from voice.core.audio import Encoding, resample
    from voice.core.planning import plan_pieces
    from voice.core.synthesis import SynthesisJob, SynthesisOptions

    pool = engine.synthesizer(voice)
    enc, rate = (Encoding.MULAW, 8000) if telephone else (Encoding.LINEAR16, 16000)
    job = SynthesisJob(pool, plan_pieces(text, voice.language), SynthesisOptions(encoding=enc, sample_rate=rate,
                                                                                deterministic=True))
    data = b"".join(c.audio for c in job.run())
    if telephone:
        pcm = kernels.mulaw_decode(np.frombuffer(data, np.uint8))
        return resample(kernels.int16_to_float32(pcm), 8000, 16000)
    return kernels.int16_to_float32(np.frombuffer(data, "<i2").copy())


def measure(engine, voice, lang: str, texts: list[str], telephone: bool, show: bool) -> tuple[float, float]:
    from voice.core.transcripts import DecodeOptions

    hyps = []
    t0 = time.perf_counter()
    for text in texts:
        audio = synthesize(engine, voice, text, telephone)
        hyp = engine.transcribe(audio, DecodeOptions(language=lang)).text
        hyps.append(hyp)
        if show:
            print(f"      {text!r}\n   -> {hyp!r}", flush=True)
    return wer(texts, hyps, lang), time.perf_counter() - t0


def ttfa(engine, voice, text: str) -> tuple[float, float]:
    """(first audio of streaming sentence ``text``, rendering it whole) in seconds, same voice."""
    from voice.core.planning import plan_pieces
    from voice.core.synthesis import SynthesisJob, SynthesisOptions

    pool = engine.synthesizer(voice)
    first, whole = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        job = SynthesisJob(pool, plan_pieces(text, voice.language), SynthesisOptions(sample_rate=8000))
        while not (chunks := job.step()) and chunks is not None:
            pass
        first.append(time.perf_counter() - t0)
        job.cancel()
        t0 = time.perf_counter()
        pool.render(text)
        whole.append(time.perf_counter() - t0)
    return statistics.median(first), statistics.median(whole)


def merge(out: Path, rows: list[dict], meta: dict) -> None:
    data = {}
    if out.is_file():
        data = json.loads(out.read_text(encoding="utf-8"))
    voices = data.get("voices", {})
    for r in rows:
        voices[r["voice"]] = {k: r[k] for k in ("language", "engine", "label", "wer", "prompts", "words")}
    data = {**{k: v for k, v in data.items() if k != "voices"}, **meta,
            "voices": dict(sorted(voices.items(), key=lambda kv: (kv[1]["language"], kv[1]["wer"], kv[0])))}
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--voices", default="", help="only these voice names (comma-separated)")
    parser.add_argument("--replies", type=int, default=4, help="domain replies per language (+3 numbers/dates)")
    parser.add_argument("--espeak", choices=("main", "all", "none"), default="main")
    parser.add_argument("--telephone", action="store_true", help="round trip through 8 kHz mu-law")
    parser.add_argument("--out", default="", help="WER table to merge into (default: the shipped one)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--show", action="store_true", help="print every prompt and transcript")
    parser.add_argument("--ttfa", action="store_true", help="also time first audio vs whole sentence")
    parser.add_argument("--no-wer", action="store_true", help="skip the WER runs (with --ttfa: time the "
                                                               "catalogue's choice per language)")
    parser.add_argument("--config", default=None)
    args = parser.parse_args(argv)

    import os

    import kernels
    from voice.config import load_config
    from voice.engines.voices import GOOD_WER, WER_TABLE, wer_rank
    from voice.runtime.engine import SpeechEngine

    from voice.testing.paths import CACHE_DIR

    config = load_config(args.config, env={**os.environ, "VOICE_CACHE_DIR": os.environ.get("VOICE_CACHE_DIR",
                                                                                        str(CACHE_DIR))})
    config = replace(config, tts=replace(config.tts, deterministic=True))
    engine = SpeechEngine(config)
    kernels.warmup()
    names = {n for n in args.voices.split(",") if n}
    out = Path(args.out) if args.out else WER_TABLE
    rows: list[dict] = []
    print(f"ASR {config.asr.model}, {os.cpu_count()} CPUs, {'8 kHz mu-law' if args.telephone else '16 kHz'} "
          f"round trip; {args.replies} replies + {len(NUMBERS['en'])} numbers/dates per language\n", flush=True)
    print(f"{'language':<9}{'voice':<30}{'engine':<10}{'label':<18}{'WER':>7}{'words':>7}{'time s':>8}", flush=True)
    best: dict[str, object] = {}
    for lang in [x for x in args.languages.split(",") if x]:
        texts = prompts(lang, args.replies)
        words = sum(len(t.split()) for t in texts)
        for voice in [] if args.no_wer else voices_for(engine.catalogue, lang, args.espeak, names):
            try:
                score, took = measure(engine, voice, lang, texts, args.telephone, args.show)
            except Exception as exc:  # a broken operator voice: say so, go on
                print(f"{lang:<9}{voice.name:<30} failed: {exc}", flush=True)
                continue
            rows.append({"voice": voice.name, "language": voice.language, "engine": voice.engine,
                         "label": voice.label, "wer": round(score, 4), "prompts": len(texts), "words": words})
            print(f"{lang:<9}{voice.name:<30}{voice.engine:<10}{voice.label:<18}{score:>7.1%}{words:>7}{took:>8.1f}",
                  flush=True)
            # the catalogue's rule (a native neural voice within GOOD_WER first, then the WER)
            if lang not in best or wer_rank(voice.label, score) < wer_rank(best[lang][0].label, best[lang][1]):
                best[lang] = (voice, score)
        if not args.no_write and rows:
            merge(out, rows, {"asr_model": config.asr.model, "round_trip": "8k-mulaw" if args.telephone else "16k",
                              "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                              "tool": "bench/voices.py"})
    print(f"\ndefault per language (lowest WER; a native neural voice within {GOOD_WER:.0%} first):")
    for lang, (voice, score) in best.items():
        print(f"  {lang}: {voice.name} ({voice.label}) {score:.1%}")
    if not args.no_write and rows:
        print(f"\ntable merged into {out}")
    if args.ttfa:
        print("\ntime to first audio (streamed, first clause) vs whole first sentence, same voice, median of 3:")
        for lang in [x for x in args.languages.split(",") if x]:
            voice = best[lang][0] if lang in best else engine.catalogue.for_language(lang)
            # the longest first sentence of the prompts: one that has clauses to stream
            text = max((re.split(r"(?<=[.!?])\s", t)[0] for t in prompts(lang, 16)), key=len)
            first, whole = ttfa(engine, voice, text)
            print(f"  {lang}: {voice.name:<28} TTFA {first * 1000:7.0f} ms   sentence {whole * 1000:7.0f} ms   "
                  f"ratio {first / whole:.2f}", flush=True)
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
