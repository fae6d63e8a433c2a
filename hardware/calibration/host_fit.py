"""Measure the host cost of a request: ``python -m hardware.calibration.host_fit [--fast]``.

Writes ``hardware/data/host_cost.csv`` (the defaults :mod:`hardware.timing.host` reads). Needs
the ``tokenizers`` package (``pip install 'fleetsim[calibrate]'``); nothing is downloaded.

* **Tokenisation (measured here).** A BERT WordPiece tokenizer (BERT normaliser, lower case,
  BERT pre-tokeniser, ``[CLS] $A [SEP]``, truncation and padding to the sequence length) with a
  30,522-token vocabulary, like bert-base-uncased, trained by ``tokenizers`` on a generated
  English-like corpus: 3 M words drawn (Zipf, exponent 1.05) from a lexicon of pseudo-words
  built from syllables (shortest words most frequent), 20 words a sentence: about 4 characters
  per word piece, as English under bert-base-uncased. A request is the longest whole-word
  prefix of 40 consecutive sentences that fits 16..512 tokens; each is encoded single-threaded
  (``RAYON_NUM_THREADS=1``) and timed with ``time.thread_time`` (the CPU time of the encoding
  thread, so a busy machine's preemption does not count); the fastest of the repeats (as
  ``timeit`` advises: slower runs are other processes interfering), then the median over
  requests, is fitted as ``a + b * tokens`` (non-negative least squares on relative error).
* **Framework and network per request (published).** Triton's server-side send/receive time of
  a batch-1 request (``network_server_sendrecv_ms``), median over the DLE Triton "Offline"
  rows at concurrency 1 on T4 and V100 with compiled backends (TensorRT, ONNX Runtime).
* **Per batch (published).** Triton's ``server_compute_input_ms + server_compute_output_ms``
  (tensor assembly and hand-off around the device call), median over the same rows, all batch
  sizes. The PyTorch (TorchScript) backend is left out: its output stage grows with the batch
  because it waits for the device.

Both published figures are latencies measured with client and server on one host, read as
host CPU time: an ``estimate``. The cross-check printed (not used) is the transformer-deploy
Triton ensemble on T4 (Python tokeniser backend, TensorRT model, HTTP on localhost): its
end-to-end p50 minus the model-only p50 at the same shape is the whole host path.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from hardware.calibration.jitter_fit import load_gpu_rows
from hardware.timing.host import HOST_FILE

VOCAB_SIZE = 30_522
"""bert-base-uncased's vocabulary size."""

SEQ_LENS = (16, 32, 64, 128, 256, 384, 512)
"""Sequence lengths measured, tokens (with [CLS] and [SEP])."""

_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_ONSETS = [*"bcdfghjklmnprstvwz", "th", "st", "tr", "pl", "gr", "ch", "sh", "br", "cl"]
_VOWELS = [*"aeiou", "ea", "ou", "ai", "io"]
_CODAS = ["", "n", "r", "s", "t", "l", "d", "m", "ng", "st", "ck", "rd"]


def lexicon(rng: np.random.Generator, n: int) -> np.ndarray:
    """Distinct English-like pseudo-words of 1-4 syllables, shortest first (Zipf rank order).

    Frequent words are short, as in English (Zipf's law of abbreviation): the running text then
    has about 4 characters per word piece, as English has under bert-base-uncased.

    Args:
        rng: Generator for the syllables.
        n: Words to generate (duplicates are dropped, so a few fewer come back).

    Returns:
        Array of words.

    """
    syllables = rng.choice([1, 2, 3, 4], size=n, p=[0.35, 0.35, 0.2, 0.1])
    picks = [rng.integers(len(part), size=(n, 4)) for part in (_ONSETS, _VOWELS, _CODAS)]
    words = (
        "".join(_ONSETS[o[j]] + _VOWELS[v[j]] + _CODAS[c[j]] for j in range(k))
        for k, o, v, c in zip(syllables, *picks, strict=True)
    )
    return np.array(sorted(dict.fromkeys(words), key=len))


def sentences(rng: np.random.Generator, words: np.ndarray, n_words: int) -> list[str]:
    """``n_words`` Zipf-drawn words (exponent 1.05), 20 to a sentence, as text lines."""
    p = 1.0 / np.arange(1, len(words) + 1) ** 1.05
    drawn = words[rng.choice(len(words), size=n_words, p=p / p.sum())]
    return [" ".join(drawn[i : i + 20]).capitalize() + "." for i in range(0, n_words, 20)]


def bert_tokenizer(lines: list[str], vocab_size: int):  # -> tokenizers.Tokenizer
    """A BERT WordPiece tokenizer trained on ``lines`` (``tokenizers`` required)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=_SPECIAL)
    tok.train_from_iterator(lines, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return tok


def _request_text(tok, text: str, seq_len: int) -> str:
    """The longest prefix of ``text`` (whole words) that fits ``seq_len`` tokens untruncated."""
    tok.no_truncation()
    tok.no_padding()
    enc = tok.encode(text)
    k = min(seq_len - 2, len(enc.ids) - 2)  # index of the last real token kept ([CLS] is 0)
    words = enc.word_ids
    while 1 < k < len(words) - 2 and words[k + 1] == words[k]:
        k -= 1
    return text[: enc.offsets[k][1]]


def measure_tokenise(
    tok, lines: list[str], seq_lens: tuple[int, ...], n_requests: int, repeats: int
) -> pd.DataFrame:
    """Median single-request encode time per sequence length.

    A request is consecutive corpus sentences, cut to the first ``seq_len - 2`` word pieces'
    worth of words; it is encoded with truncation and padding to ``seq_len``.

    Args:
        tok: The tokenizer.
        lines: Corpus sentences to cut requests from.
        seq_lens: Sequence lengths, tokens.
        n_requests: Requests per length.
        repeats: Timed encodes per request (the fastest is kept).

    Returns:
        Columns ``seq_len``, ``tokens`` (real tokens incl. [CLS]/[SEP], median),
        ``chars_per_token`` (median) and ``tokenise_s`` (median over requests of the fastest
        encode, seconds).

    """
    out = []
    for seq_len in seq_lens:
        times, tokens, chars = [], [], []
        for r in range(n_requests):
            text = _request_text(tok, " ".join(lines[r * 40 : r * 40 + 40]), seq_len)
            tok.enable_truncation(max_length=seq_len)
            tok.enable_padding(length=seq_len, pad_id=0, pad_token="[PAD]")
            enc = tok.encode(text)
            tokens.append(sum(enc.attention_mask))
            chars.append(len(text) / tokens[-1])
            runs = []
            for _ in range(repeats):
                t0 = time.thread_time()
                tok.encode(text)
                runs.append(time.thread_time() - t0)
            times.append(min(runs))  # slower runs are other processes interfering
        out.append(
            {
                "seq_len": seq_len,
                "tokens": float(np.median(tokens)),
                "chars_per_token": float(np.median(chars)),
                "tokenise_s": float(np.median(times)),
            }
        )
    return pd.DataFrame(out)


def fit_line(points: pd.DataFrame) -> tuple[float, float]:
    """Fit ``tokenise_s = a + b * tokens`` with ``a, b >= 0`` (s, s per token).

    Least squares on the relative error, so short requests (most traffic) weigh as much as
    long ones.
    """
    y = points.tokenise_s.to_numpy(float)
    design = np.column_stack([np.ones(len(points)), points.tokens.to_numpy(float)]) / y[:, None]
    (a, b), _ = nnls(design, np.ones(len(y)))
    return float(a), float(b)


def triton_overheads() -> dict[str, float]:
    """Published per-request and per-batch host figures from the shipped GPU rows.

    Returns:
        ``request_overhead_s`` (median send/receive at batch 1), ``per_batch_s`` (median
        input + output stage), ``n_request_rows``, ``n_batch_rows``, and the cross-check
        ``ensemble_host_s`` (transformer-deploy end-to-end minus model-only p50s, seconds).

    """
    d = load_gpu_rows()
    notes = d.notes.fillna("")

    def num(key: str) -> pd.Series:
        return pd.to_numeric(notes.str.extract(key + r"=([\d.]+)", expand=False))

    triton = (
        notes.str.contains("scenario=Offline")
        & (num("concurrency") == 1)
        & num("server_compute_infer_ms").notna()
        & d.gpu.isin(["T4", "V100-16GB", "V100-32GB"])
        & ~d.software_stack.str.contains("PyTorch")
    )
    stage = num("server_compute_input_ms") + num("server_compute_output_ms")
    sendrecv = num("network_server_sendrecv_ms")
    batch1 = triton & (d.batch_size == 1)
    ensemble = d[d.software_stack.str.contains("ensemble", na=False)].set_index(
        "seq_len_or_image_size"
    )
    model_only = d[d.software_stack.str.contains("convert_model benchmark: TensorRT", na=False)]
    mini = model_only[model_only.model.str.contains("MiniLM") & (model_only.batch_size == 1)]
    e2e = ensemble.latency_p50_ms.astype(float)
    only = mini.set_index(mini.seq_len_or_image_size.str.extract(r"^(\d+)", expand=False))
    both = e2e.index.intersection(only.index)
    host = (e2e[both] - only.latency_p50_ms[both]).mean()
    return {
        "request_overhead_s": float(sendrecv[batch1].median()) / 1e3,
        "per_batch_s": float(stage[triton].median()) / 1e3,
        "n_request_rows": int(batch1.sum()),
        "n_batch_rows": int(triton.sum()),
        "ensemble_host_s": float(host) / 1e3,
    }


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (else ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def measure(fast: bool = False) -> tuple[pd.DataFrame, dict[str, float], dict[str, str]]:
    """Build the tokenizer, time it and read the published overheads.

    Args:
        fast: A small corpus and vocabulary and few repeats (a smoke run for tests).

    Returns:
        ``(points, parameters, machine)``: the measured points, the parameter values (seconds)
        and a description of the machine and the run.

    """
    os.environ.setdefault("RAYON_NUM_THREADS", "1")  # single-threaded encode
    import tokenizers

    rng = np.random.default_rng(20261201)
    n_lexicon, n_words, vocab = (5_000, 100_000, 2_000) if fast else (100_000, 3_000_000, None)
    words = lexicon(rng, n_lexicon)
    lines = sentences(rng, words, n_words)
    tok = bert_tokenizer(lines, vocab or VOCAB_SIZE)
    n_requests, repeats = (5, 5) if fast else (50, 50)
    points = measure_tokenise(tok, lines, SEQ_LENS, n_requests, repeats)
    a, b = fit_line(points)
    published = triton_overheads()
    params = {"tokenise_fixed_s": a, "tokenise_per_token_s": b, **published}
    machine = {
        "cpu": cpu_model(),
        "tokenizers": tokenizers.__version__,
        "vocab_size": str(tok.get_vocab_size()),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "protocol": f"fastest of {repeats} repeats, median of {n_requests} requests",
    }
    return points, params, machine


def render(points: pd.DataFrame, params: dict[str, float], machine: dict[str, str]) -> str:
    """``host_cost.csv``'s text: header comment naming the machine, then long-form rows."""
    run = f"{machine['cpu']}; tokenizers {machine['tokenizers']}; {machine['date']}"
    tok_src = (
        f"measured by python -m hardware.calibration.host_fit on {run}; BERT WordPiece, "
        f"vocab {machine['vocab_size']}, single-threaded encode, thread CPU time, "
        f"{machine['protocol']}"
    )
    triton = (
        "DLE Triton READMEs (NVIDIA/DeepLearningExamples, PyTorch/LanguageModeling/BERT/triton), "
        "Offline rows at concurrency 1 on T4 and V100, compiled backends; rows in "
        "hardware/data/gpu_latency_rows.csv"
    )
    rows = [
        ("tokenise_fixed_s", params["tokenise_fixed_s"], "s", "measured", tok_src),
        ("tokenise_per_token_s", params["tokenise_per_token_s"], "s/token", "measured", tok_src),
        (
            "request_overhead_s",
            params["request_overhead_s"],
            "s",
            "estimate",
            f"median network_server_sendrecv_ms of {params['n_request_rows']} batch-1 rows "
            f"(latency read as host CPU time): {triton}",
        ),
        (
            "per_batch_s",
            params["per_batch_s"],
            "s",
            "estimate",
            f"median server_compute_input_ms + server_compute_output_ms of "
            f"{params['n_batch_rows']} rows, batch 1-16 (latency read as host CPU time): {triton}",
        ),
        *(
            (f"tokenise_s_at_{int(p.seq_len)}", p.tokenise_s, "s", "measured", tok_src)
            for p in points.itertuples()
        ),
    ]
    header = (
        "# Host cost of a request before the accelerator (hardware.timing.host): per request\n"
        "# tokenise_fixed_s + tokenise_per_token_s * tokens + request_overhead_s; per batch\n"
        "# per_batch_s. Written by `python -m hardware.calibration.host_fit` (re-measures);\n"
        f"# machine: {machine['cpu']} ({os.cpu_count()} CPUs seen), Python {machine['python']},"
        f" tokenizers {machine['tokenizers']}, {machine['date']}, load average {machine['load']}.\n"
        "# tokenise_s_at_N: the measured points the line is fitted to. See docs/hardware.md.\n"
    )
    body = pd.DataFrame(rows, columns=["parameter", "value", "unit", "basis", "source"])
    body["value"] = body.value.map(lambda v: f"{v:.4g}")
    return header + body.to_csv(index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and write ``host_cost.csv`` (or ``--out``; not with ``--dry-run``).

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        Exit code (0).

    """
    parser = argparse.ArgumentParser(prog="python -m hardware.calibration.host_fit")
    parser.add_argument("--fast", action="store_true", help="small vocabulary, few repeats")
    parser.add_argument("--dry-run", action="store_true", help="measure and print only")
    parser.add_argument("--out", type=Path, help="write here instead of hardware/data")
    args = parser.parse_args(argv)
    points, params, machine = measure(fast=args.fast)
    print(points.to_string(index=False))
    print({k: (round(v * 1e6, 3) if k.endswith("_s") else v) for k, v in params.items()}, "(us)")
    print(machine)
    if not args.dry_run:
        data = Path(str(resources.files("hardware").joinpath("data")))
        target = args.out or data / HOST_FILE
        target.write_text(render(points, params, machine), encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
