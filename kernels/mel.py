"""Whisper log-mel spectrogram (80 or 128 mels), one-shot and incremental.

Matches faster-whisper's ``FeatureExtractor.__call__(waveform)`` (max abs difference
<= 1e-4, asserted in the tests): 16 kHz float32 input, ``padding=160`` zeros appended,
reflect padding of ``n_fft // 2`` on both sides, periodic Hann window, ``n_fft = 400``,
``hop = 160``, power spectrum, Slaney-normalised mel filterbank (0 - 8 kHz), the last STFT
frame dropped, then ``log10(max(mel, 1e-10))``, clamped to ``max - 8`` and mapped to
``(x + 4) / 4``. Output shape ``(n_mels, len(x) // 160 + 1)``, float32.

Implementation: frames are windowed and transformed 64 at a time by a numba FFT that is
vectorised *across frames* (two real frames packed into one complex 400-point transform,
Stockham autosort with radix 4, 4, 5, 5 butterflies); power, mel projection (sparse band
ranges) and a vectorised log10 follow in the same pass. The global ``max - 8`` clamp is
applied at the end, which is what lets :class:`LogMelStream` compute only new frames.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

from ._validate import as_f32_1d

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
PAD_END = 160  # FeatureExtractor's default ``padding``
_NBINS = N_FFT // 2 + 1
_RADICES = (4, 4, 5, 5)
_BLOCK = 64  # complex transforms per block (= 128 real frames)


@functools.lru_cache(maxsize=4)
def mel_filters(n_mels: int = 80) -> np.ndarray:
    """Slaney-style mel filterbank ``(n_mels, 201)`` float32 for 16 kHz, n_fft 400
    (librosa's default ``htk=False, norm='slaney'``, 0 - 8000 Hz), as Whisper uses."""
    if n_mels not in (80, 128):
        raise ValueError(f"n_mels must be 80 or 128, got {n_mels!r}")
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0

    def hz_to_mel(f):
        return f / f_sp if f < min_log_hz else min_log_mel + math.log(f / min_log_hz) / logstep

    mels = np.linspace(0.0, hz_to_mel(SAMPLE_RATE / 2), n_mels + 2)
    hz = np.where(mels < min_log_mel, f_sp * mels, min_log_hz * np.exp(logstep * (mels - min_log_mel)))
    fft_hz = np.arange(_NBINS) * (SAMPLE_RATE / N_FFT)
    fb = np.zeros((n_mels, _NBINS))
    for m in range(n_mels):
        lo, mid, hi = hz[m], hz[m + 1], hz[m + 2]
        rise = (fft_hz - lo) / (mid - lo)
        fall = (hi - fft_hz) / (hi - mid)
        fb[m] = np.maximum(0.0, np.minimum(rise, fall)) * (2.0 / (hi - lo))
    fb = fb.astype(np.float32)
    fb.setflags(write=False)
    return fb


@functools.lru_cache(maxsize=4)
def _plan(n_mels: int):
    """Twiddles per stage, small-DFT constants, window, and the filterbank's band ranges."""
    tw_re, tw_im, offs = [], [], [0]
    ls = 1
    for p in _RADICES:
        lsp = ls * p
        r = np.arange(p)[:, None]
        k = np.arange(ls)[None, :]
        w = np.exp(-2j * np.pi * r * k / lsp)  # (p, ls)
        tw_re.append(w.real.ravel())
        tw_im.append(w.imag.ravel())
        offs.append(offs[-1] + w.size)
        ls = lsp
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    # identical to np.hanning(401)[:-1] (what FeatureExtractor uses) in float32
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    fb = mel_filters(n_mels)
    nz = fb > 0
    lo = np.array([np.argmax(row) if row.any() else 0 for row in nz], np.int64)
    hi = np.array([_NBINS - np.argmax(row[::-1]) if row.any() else 0 for row in nz], np.int64)
    return (np.concatenate(tw_re).astype(np.float32), np.concatenate(tw_im).astype(np.float32),
            np.array(offs, np.int64), window, fb, lo, hi)


@njit(cache=True, nogil=True, fastmath=True)
def _radix4(xr, xi, yr, yi, ls, N, twr, twi):
    B = xr.shape[1]
    nl = N // (ls * 4)
    for tp in range(nl):
        for k in range(ls):
            w1r, w1i = twr[ls + k], twi[ls + k]
            w2r, w2i = twr[2 * ls + k], twi[2 * ls + k]
            w3r, w3i = twr[3 * ls + k], twi[3 * ls + k]
            a0r, a0i = xr[tp * ls + k], xi[tp * ls + k]
            a1r, a1i = xr[(tp + nl) * ls + k], xi[(tp + nl) * ls + k]
            a2r, a2i = xr[(tp + 2 * nl) * ls + k], xi[(tp + 2 * nl) * ls + k]
            a3r, a3i = xr[(tp + 3 * nl) * ls + k], xi[(tp + 3 * nl) * ls + k]
            o = tp * ls * 4 + k
            y0r, y0i = yr[o], yi[o]
            y1r, y1i = yr[o + ls], yi[o + ls]
            y2r, y2i = yr[o + 2 * ls], yi[o + 2 * ls]
            y3r, y3i = yr[o + 3 * ls], yi[o + 3 * ls]
            for b in range(B):
                br, bi = a1r[b] * w1r - a1i[b] * w1i, a1r[b] * w1i + a1i[b] * w1r
                cr, ci = a2r[b] * w2r - a2i[b] * w2i, a2r[b] * w2i + a2i[b] * w2r
                dr, di = a3r[b] * w3r - a3i[b] * w3i, a3r[b] * w3i + a3i[b] * w3r
                t0r, t0i = a0r[b] + cr, a0i[b] + ci
                t1r, t1i = a0r[b] - cr, a0i[b] - ci
                t2r, t2i = br + dr, bi + di
                t3r, t3i = br - dr, bi - di
                y0r[b], y0i[b] = t0r + t2r, t0i + t2i
                y2r[b], y2i[b] = t0r - t2r, t0i - t2i
                y1r[b], y1i[b] = t1r + t3i, t1i - t3r  # t1 - i t3
                y3r[b], y3i[b] = t1r - t3i, t1i + t3r  # t1 + i t3


@njit(cache=True, nogil=True, fastmath=True)
def _radix5(xr, xi, yr, yi, ls, N, twr, twi):
    B = xr.shape[1]
    nl = N // (ls * 5)
    c1 = np.float32(math.cos(2 * math.pi / 5))
    c2 = np.float32(math.cos(4 * math.pi / 5))
    s1 = np.float32(math.sin(2 * math.pi / 5))
    s2 = np.float32(math.sin(4 * math.pi / 5))
    for tp in range(nl):
        for k in range(ls):
            w1r, w1i = twr[ls + k], twi[ls + k]
            w2r, w2i = twr[2 * ls + k], twi[2 * ls + k]
            w3r, w3i = twr[3 * ls + k], twi[3 * ls + k]
            w4r, w4i = twr[4 * ls + k], twi[4 * ls + k]
            a0r, a0i = xr[tp * ls + k], xi[tp * ls + k]
            a1r, a1i = xr[(tp + nl) * ls + k], xi[(tp + nl) * ls + k]
            a2r, a2i = xr[(tp + 2 * nl) * ls + k], xi[(tp + 2 * nl) * ls + k]
            a3r, a3i = xr[(tp + 3 * nl) * ls + k], xi[(tp + 3 * nl) * ls + k]
            a4r, a4i = xr[(tp + 4 * nl) * ls + k], xi[(tp + 4 * nl) * ls + k]
            o = tp * ls * 5 + k
            y0r, y0i = yr[o], yi[o]
            y1r, y1i = yr[o + ls], yi[o + ls]
            y2r, y2i = yr[o + 2 * ls], yi[o + 2 * ls]
            y3r, y3i = yr[o + 3 * ls], yi[o + 3 * ls]
            y4r, y4i = yr[o + 4 * ls], yi[o + 4 * ls]
            for b in range(B):
                pr, pi = a1r[b] * w1r - a1i[b] * w1i, a1r[b] * w1i + a1i[b] * w1r
                qr, qi = a2r[b] * w2r - a2i[b] * w2i, a2r[b] * w2i + a2i[b] * w2r
                rr, ri = a3r[b] * w3r - a3i[b] * w3i, a3r[b] * w3i + a3i[b] * w3r
                sr, si = a4r[b] * w4r - a4i[b] * w4i, a4r[b] * w4i + a4i[b] * w4r
                t1r, t1i = pr + sr, pi + si
                t2r, t2i = qr + rr, qi + ri
                t3r, t3i = pr - sr, pi - si
                t4r, t4i = qr - rr, qi - ri
                x0r, x0i = a0r[b], a0i[b]
                y0r[b], y0i[b] = x0r + t1r + t2r, x0i + t1i + t2i
                b1r, b1i = x0r + c1 * t1r + c2 * t2r, x0i + c1 * t1i + c2 * t2i
                b2r, b2i = x0r + c2 * t1r + c1 * t2r, x0i + c2 * t1i + c1 * t2i
                ur, ui = s1 * t3r + s2 * t4r, s1 * t3i + s2 * t4i
                vr, vi = s2 * t3r - s1 * t4r, s2 * t3i - s1 * t4i
                # y1 = b1 - i u, y4 = b1 + i u, y2 = b2 - i v, y3 = b2 + i v
                y1r[b], y1i[b] = b1r + ui, b1i - ur
                y4r[b], y4i[b] = b1r - ui, b1i + ur
                y2r[b], y2i[b] = b2r + vi, b2i - vr
                y3r[b], y3i[b] = b2r - vi, b2i + vr


@njit(cache=True, nogil=True, fastmath=True)
def _log10_clamped(v, out_i32, tmp):
    """``log10(max(v, 1e-10))`` in place for a float32 vector, vectorisable (no libm call).

    Exponent/mantissa split through an int32 view, then ln(m) = 2 atanh((m-1)/(m+1)) for
    m in [0.707, 1.414) (series to u**9; error < 1e-9)."""
    n = v.size
    for i in range(n):
        if not v[i] > np.float32(1e-10):
            v[i] = np.float32(1e-10)
    vi = v.view(np.int32)
    ti = tmp.view(np.int32)
    for i in range(n):
        bits = vi[i]
        out_i32[i] = ((bits >> 23) & 0xFF) - 127
        ti[i] = (bits & 0x7FFFFF) | 0x3F800000
    ln2 = np.float32(0.6931471805599453)
    inv_ln10 = np.float32(0.4342944819032518)
    for i in range(n):
        m = tmp[i]
        e = np.float32(out_i32[i])
        if m > np.float32(1.4142135):
            m = m * np.float32(0.5)
            e += np.float32(1.0)
        u = (m - np.float32(1.0)) / (m + np.float32(1.0))
        u2 = u * u
        s = u * (np.float32(2.0) + u2 * (np.float32(2.0 / 3.0) + u2 * (np.float32(0.4) + u2 * (
            np.float32(2.0 / 7.0) + u2 * np.float32(2.0 / 9.0)))))
        v[i] = (e * ln2 + s) * inv_ln10


@njit(cache=True, nogil=True, fastmath=True)
def _logmel_frames(xp, start, nf, window, twr, twi, toffs, fb, lo, hi, out, o0):
    """Raw ``log10(max(mel, 1e-10))`` of ``nf`` frames of the padded signal ``xp`` (frame f
    is ``xp[start + f*HOP :][:N_FFT]``) into columns ``o0 ..`` of ``out`` (n_mels, n_frames)."""
    N = N_FFT
    B = min(_BLOCK, (nf + 1) // 2)  # a few frames (incremental use) need a narrow block
    B = max(B, 1)
    n_mels = fb.shape[0]
    ar = np.empty((N, B), np.float32)
    ai = np.empty((N, B), np.float32)
    br = np.empty((N, B), np.float32)
    bi = np.empty((N, B), np.float32)
    pa = np.empty((_NBINS, B), np.float32)
    pb = np.empty((_NBINS, B), np.float32)
    ma = np.empty(n_mels * B, np.float32)
    mb = np.empty(n_mels * B, np.float32)
    ei = np.empty(n_mels * B, np.int32)
    tmp = np.empty(n_mels * B, np.float32)
    for blk in range(0, nf, 2 * B):
        nblk = min(2 * B, nf - blk)
        # load: column b packs frames blk+2b (real part) and blk+2b+1 (imaginary part)
        for b in range(B):
            fa = 2 * b
            fbb = fa + 1
            if fa < nblk:
                s = start + (blk + fa) * HOP
                for n in range(N):
                    ar[n, b] = xp[s + n] * window[n]
            else:
                for n in range(N):
                    ar[n, b] = 0.0
            if fbb < nblk:
                s = start + (blk + fbb) * HOP
                for n in range(N):
                    ai[n, b] = xp[s + n] * window[n]
            else:
                for n in range(N):
                    ai[n, b] = 0.0
        # FFT: stages 4, 4, 5, 5 (ping-pong a -> b -> a -> b -> a)
        _radix4(ar, ai, br, bi, 1, N, twr[toffs[0]:toffs[1]], twi[toffs[0]:toffs[1]])
        _radix4(br, bi, ar, ai, 4, N, twr[toffs[1]:toffs[2]], twi[toffs[1]:toffs[2]])
        _radix5(ar, ai, br, bi, 16, N, twr[toffs[2]:toffs[3]], twi[toffs[2]:toffs[3]])
        _radix5(br, bi, ar, ai, 80, N, twr[toffs[3]:toffs[4]], twi[toffs[3]:toffs[4]])
        # unpack the two real spectra and take power
        for k in range(_NBINS):
            kn = (N - k) % N
            zr, zi = ar[k], ai[k]
            wr, wi = ar[kn], ai[kn]
            qa, qb = pa[k], pb[k]
            for b in range(B):
                sr = zr[b] + wr[b]
                di = zi[b] - wi[b]
                dr = zr[b] - wr[b]
                si = zi[b] + wi[b]
                qa[b] = np.float32(0.25) * (sr * sr + di * di)
                qb[b] = np.float32(0.25) * (dr * dr + si * si)
        # mel projection over each filter's nonzero band
        for m in range(n_mels):
            accA = ma[m * B:(m + 1) * B]
            accB = mb[m * B:(m + 1) * B]
            for b in range(B):
                accA[b] = 0.0
                accB[b] = 0.0
            for k in range(lo[m], hi[m]):
                c = fb[m, k]
                qa, qb = pa[k], pb[k]
                for b in range(B):
                    accA[b] += c * qa[b]
                    accB[b] += c * qb[b]
        _log10_clamped(ma, ei, tmp)
        _log10_clamped(mb, ei, tmp)
        for m in range(n_mels):
            row = out[m, o0 + blk:]
            for b in range(B):
                fa = 2 * b
                if fa < nblk:
                    row[fa] = ma[m * B + b]
                if fa + 1 < nblk:
                    row[fa + 1] = mb[m * B + b]


@njit(cache=True, nogil=True, fastmath=True)
def _max_cols(raw, f0, f1):
    """Max of ``raw[:, f0:f1]`` (raw values are finite: log10 of a clamped positive)."""
    mx = np.float32(-np.inf)
    for m in range(raw.shape[0]):
        row = raw[m, f0:f1]
        for f in range(row.size):
            if row[f] > mx:
                mx = row[f]
    return mx


@njit(cache=True, nogil=True, fastmath=True)
def _normalise(raw, n, mx, out):
    """``out[m, f] = (max(raw[m, f], mx - 8) + 4) / 4`` for the first ``n`` columns."""
    floor = np.float32(mx - 8.0)
    for m in range(raw.shape[0]):
        src = raw[m, :n]
        dst = out[m, :n]
        for f in range(n):
            dst[f] = (max(src[f], floor) + np.float32(4.0)) * np.float32(0.25)


def _as_audio(x, name="audio"):
    return as_f32_1d(x, name, " (16 kHz, full scale 1.0)")


def _raw_logmel(padded: np.ndarray, start: int, nf: int, n_mels: int, out=None, o0: int = 0):
    twr, twi, toffs, window, fb, lo, hi = _plan(n_mels)
    if out is None:
        out = np.empty((n_mels, nf), np.float32)
    if nf:
        _logmel_frames(padded, start, nf, window, twr, twi, toffs, fb, lo, hi, out, o0)
    return out


def log_mel_spectrogram(audio: np.ndarray, n_mels: int = 80) -> np.ndarray:
    """Whisper log-mel features of 16 kHz float32 mono ``audio``: float32 ``(n_mels,
    len(audio) // 160 + 1)``, same as faster-whisper's ``FeatureExtractor(n_mels)(audio)``."""
    audio = _as_audio(audio)
    mel_filters(n_mels)  # validates n_mels
    padded = np.pad(np.pad(audio, (0, PAD_END)), N_FFT // 2, mode="reflect")
    nf = audio.size // HOP + 1
    raw = _raw_logmel(padded, 0, nf, n_mels)
    out = np.empty((n_mels, nf), np.float32)
    _normalise(raw, nf, _max_cols(raw, 0, nf), out)
    return out


class LogMelStream:
    """Incremental :func:`log_mel_spectrogram`: feed 16 kHz audio chunk by chunk; each
    :meth:`push` returns the features of *all* audio so far, equal to the one-shot result on
    the concatenated audio, while computing only the frames that the new audio completes.

    Frames whose 400-sample window lies wholly inside the audio received are final and kept
    (raw, before the global clamp); the last two or three frames, which reach into the end
    padding, are recomputed on each call. Memory grows with the stream (16 kHz float32 audio
    plus ``n_mels`` floats per 10 ms); :meth:`reset` starts over.
    """

    def __init__(self, n_mels: int = 80):
        mel_filters(n_mels)
        self.n_mels = n_mels
        self.reset()

    def reset(self) -> None:
        self._audio = np.zeros(16000, np.float32)
        self._n = 0  # samples received
        self._raw = np.zeros((self.n_mels, 128), np.float32)  # raw log10, column per frame
        self._final = 0  # frames in _raw that will not change
        self._max = -np.inf  # max over final frames

    @property
    def n_samples(self) -> int:
        return self._n

    def _append(self, x):
        need = self._n + x.size
        if need > self._audio.size:
            grown = np.zeros(max(need, 2 * self._audio.size), np.float32)
            grown[:self._n] = self._audio[:self._n]
            self._audio = grown
        self._audio[self._n:need] = x
        self._n = need

    def push(self, audio: np.ndarray) -> np.ndarray:
        """Add a chunk (any length, including 0); returns ``(n_mels, n_samples // 160 + 1)``."""
        x = _as_audio(audio)
        self._append(x)
        n = self._n
        n_frames = n // HOP + 1
        # frame f reads padded[160 f : 160 f + 400] = audio[160 f - 200 : 160 f + 200]
        # (reflected at the start); final once 160 f + 200 <= n and the start reflection is
        # a single one (n > 200)
        n_final = (n - N_FFT // 2) // HOP + 1 if n > N_FFT // 2 else 0
        n_final = min(n_final, n_frames)
        if self._raw.shape[1] < n_frames:
            grown = np.zeros((self.n_mels, max(n_frames, 2 * self._raw.shape[1])), np.float32)
            grown[:, :self._final] = self._raw[:, :self._final]
            self._raw = grown
        t0 = self._final
        if n_frames > t0:
            # frames t0 .. n_frames from one padded tail built exactly as FeatureExtractor
            # builds its whole input; frames below n_final do not reach the end padding
            s = HOP * t0 - N_FFT // 2
            if s < 0:
                tail = np.pad(np.pad(self._audio[:n], (0, PAD_END)), N_FFT // 2, mode="reflect")
                start = HOP * t0
            else:
                s2 = max(0, s - 2 * N_FFT)  # enough context for a single end reflection
                m = n - s2
                half = N_FFT // 2
                tail = np.zeros(m + PAD_END + half, np.float32)
                tail[:m] = self._audio[s2:n]
                end = m + PAD_END  # reflect about the last sample of audio + padding
                tail[end:] = tail[end - 2:end - 2 - half:-1]
                start = s - s2
            _raw_logmel(tail, start, n_frames - t0, self.n_mels, self._raw, t0)
            if n_final > t0:
                self._max = max(self._max, float(_max_cols(self._raw, t0, n_final)))
                self._final = n_final
        mx = self._max
        if n_frames > self._final:
            mx = max(mx, float(_max_cols(self._raw, self._final, n_frames)))
        out = np.empty((self.n_mels, n_frames), np.float32)
        _normalise(self._raw, n_frames, mx, out)
        return out
