"""NLMS echo-path filter and double-talk detector of :mod:`kernels.echo` (private).

The per-sample ``@njit`` kernel :func:`_aec_run`, its tuning constants, the layout of the
streaming state it carries (float64 / int64 slot indices) and :func:`_params`, which packs
the constants into the parameter vector the kernel unpacks (same order in both places).
The design is described in :mod:`kernels.echo`; the bulk-delay estimate (GCC-PHAT) and the
stream bookkeeping stay there.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Mean-square floor (about -60 dBFS) below which a signal counts as silent.
_FLOOR_MS = 1e-6
#: Pre-emphasis coefficient of the adaptation (whitening).
_PREEMPH = 0.9
#: Double-talk thresholds (dB of 10 ms power): residual over echo estimate (converged
#: stage; at least ``_DT_RESIDUAL_MARGIN_DB`` over the filter's usual residual-to-echo
#: ratio, so a filter that is still improving is not frozen), mic over reference over the
#: filter's span (converging / converged stage); hang-over after the last detection.
_DT_RESIDUAL_DB = -10.0
_DT_RESIDUAL_MARGIN_DB = 6.0
_DT_LOUDER_DB = 1.0
_DT_GEIGEL_DB = -3.0
_DT_GEIGEL_CONVERGED_DB = 0.0
_DT_HANG_MS = 60.0
#: Residual noise floor: minimum of the 10 ms residual power over ``_NOISE_BLOCKS`` blocks
#: of ``_NOISE_BLOCK_MS``; tests and step size use ``_NOISE_MARGIN`` times it.
_NOISE_BLOCK_MS = 100.0
_NOISE_BLOCKS = 10
_NOISE_MARGIN = 2.0
#: The step is scaled by the share of residual power above the noise floor, at least this.
_MU_MIN_FRAC = 0.1
#: NLMS regularisation: ``_NOISE_REG * taps * noise floor`` is added to the reference energy,
#: so a quiet reference under a noisy line does not make the update blow up.
_NOISE_REG = 2.0
#: Converged stage: entered at this ERLE (noise removed) after this much adaptation, left
#: below ``_CONV_OFF_DB``; "double talk" longer than ``_DT_TIMEOUT_S`` of reference
#: activity restarts the converging stage.
_CONV_ON_DB = 10.0
_CONV_OFF_DB = 4.0
_CONV_MIN_S = 0.5
_DT_TIMEOUT_S = 4.0
#: Time constants: detector powers, ERLE (and convergence) averages.
_POWER_MS = 10.0
_ERLE_MS = 500.0
#: Adaptation (and the double-talk tests) only while the reference power over the filter's
#: span is within ``_ADAPT_REL_DB`` of its recent peak (decaying with ``_PEAK_DECAY_S``):
#: syllable tails near the floor teach nothing and would only trip the detector.
_ADAPT_REL_DB = -20.0
_PEAK_DECAY_S = 2.0
#: Robust (Huber) adaptation: the whitened error is clipped at ``_ROBUST_K`` times its
#: running RMS (``_ROBUST_MS`` time constant, over adapting samples).
_ROBUST_K = 2.0
_ROBUST_MS = 20.0
#: Snapshot block (samples) and how many snapshots are kept for the double-talk roll-back.
_SNAP_BLOCK_MS = 8.0
_N_SNAPS = 4

# float64 state slots
_PY, _PE, _PH, _NFC, _EY, _EE, _CY, _CE, _YP, _PK, _SC, _GY, _GX = range(13)
_NF = 13
# int64 state slots
_N, _HOLD, _RUN, _CONV, _CLEAN, _SHEAD, _ADAPT, _KN = range(8)
_NI = 8
#: "not measured yet" for the noise floor
_UNSET = 1e30


@njit(cache=True, nogil=True, fastmath=True)
def _aec_run(mic, work, base, off, wr, snaps, nfr, st, ist, prm, out):
    """Cancel echo for ``mic``; ``work[base + i]`` is the reference sample played with ``mic[i]``.

    ``wr`` holds the filter reversed: ``wr[j]`` weighs reference lag ``off + L - 1 - j``.
    """
    L = wr.size
    mu, a, delta, act_floor = prm[0], prm[1], prm[2], prm[3]
    a_s, a_erle, a_conv = prm[4], prm[5], prm[6]
    rho, theta = prm[7], prm[8]
    hang, timeout, block = int(prm[9]), int(prm[10]), int(prm[11])
    conv_on, conv_off, min_adapt = prm[12], prm[13], int(prm[14])
    nf_block, nf_mult, mu_min, reg = int(prm[15]), prm[16], prm[17], prm[18] * L
    pk_decay, adapt_rel, theta_c = prm[19], prm[20], prm[21]
    k2, a_sc, rel, veto = prm[22], prm[23], prm[24], prm[25]
    gy, gx = st[_GY], st[_GX]
    pk, sc = st[_PK], st[_SC]
    nfc = st[_NFC]
    nf = nfc
    for k in range(nfr.size):
        nf = min(nf, nfr[k])
    K = snaps.shape[0]
    py, pe, ph = st[_PY], st[_PE], st[_PH]
    ey, ee, cy, ce, yp = st[_EY], st[_EE], st[_CY], st[_CE], st[_YP]
    n_abs, hold, run, conv, clean, head = ist[_N], ist[_HOLD], ist[_RUN], ist[_CONV], ist[_CLEAN], ist[_SHEAD]
    adapted, kn = ist[_ADAPT], ist[_KN]
    warm = 3 * int(1.0 / a_s + 0.5)
    for i in range(mic.size):
        s = base + i - off - L + 1
        x = work[s:s + L]
        xm = work[s - 1:s + L - 1]
        yh = 0.0
        yhf = 0.0
        px = 0.0
        pxf = 0.0
        for j in range(L):
            xv = np.float64(x[j])
            xf = xv - a * np.float64(xm[j])
            yh += wr[j] * xv
            yhf += wr[j] * xf
            px += xv * xv
            pxf += xf * xf
        y = np.float64(mic[i])
        e = y - yh
        out[i] = e
        ef = (y - a * yp) - yhf
        yp = y
        py += a_s * (y * y - py)
        pe += a_s * (e * e - pe)
        ph += a_s * (yh * yh - ph)
        pxm = px / L
        pk = max(pk * pk_decay, pxm)
        kn += 1
        if kn > warm and pe < nfc:  # the 10 ms averages have settled
            nfc = pe
            nf = min(nf, pe)
        if nf >= _UNSET:
            nf_use = 0.0
        else:
            nf_use = nf
        nfloor = nf_mult * nf_use
        if px > act_floor:
            ey += a_erle * (y * y - ey)
            ee += a_erle * (e * e - ee)
        if px > act_floor and pxm > adapt_rel * pk:
            # double-talk test
            dt = py > (theta_c if conv == 1 else theta) * pxm + nfloor
            if conv == 1:
                # residual far above what this filter usually leaves (6 dB over its long-term
                # residual-to-echo ratio, and at least -10 dB of the echo estimate)
                cy_echo = cy - nfloor
                usual = max(ce - nfloor, 0.0) / cy_echo if cy_echo > 0.0 else 1.0
                # ... and the mic louder than this echo path usually makes it (else the
                # filter is merely meeting sound it has not learnt yet: keep adapting)
                louder = gx <= 0.0 or py > veto * (gy / gx) * pxm + nfloor
                if louder and pe > max(rho, rel * usual) * ph + nfloor:
                    dt = True
            if dt:
                if hold == 0:
                    # onset: roll back to the oldest clean snapshot
                    old = (head + 1) % K
                    for j in range(L):
                        wr[j] = snaps[old, j]
                    for k in range(K):
                        if k != old:
                            for j in range(L):
                                snaps[k, j] = snaps[old, j]
                hold = hang
                run += 1
                if run > timeout:  # not a talker: the echo path changed, start over
                    conv = 0
                    run = 0
                    adapted = 0
                    sc = 1.0
            if hold == 0:
                run = 0
                cy += a_conv * (y * y - cy)
                ce += a_conv * (e * e - ce)
                gy += a_conv * (py - gy)
                gx += a_conv * (pxm - gx)
                adapted += 1
                # convergence judged on echo power vs residual echo power (noise floor removed)
                ce_echo = max(ce - nfloor, 0.0)
                cy_echo = cy - nfloor
                if conv == 0 and adapted >= min_adapt and cy_echo > conv_on * ce_echo:
                    conv = 1
                elif conv == 1 and cy_echo < conv_off * ce_echo:
                    conv = 0
                frac = 1.0 - nf_use / pe if pe > 0.0 else 0.0
                # robust error (Huber): clipped at k x its running scale, whose growth is
                # limited too, so an undetected talker onset can only nudge the filter
                ef2 = min(ef * ef, k2 * sc)
                sc += a_sc * (ef2 - sc)
                efr = math.sqrt(ef2) if ef >= 0.0 else -math.sqrt(ef2)
                g = mu * max(frac, mu_min) * efr / (pxf + delta + reg * nf_use)
                for j in range(L):
                    wr[j] += g * (np.float64(x[j]) - a * np.float64(xm[j]))
        if hold > 0:
            hold -= 1
            clean = 0
        n_abs += 1
        if n_abs % nf_block == 0:
            for k in range(nfr.size - 1):
                nfr[k] = nfr[k + 1]
            nfr[nfr.size - 1] = nfc
            nfc = pe if kn > warm else _UNSET
            nf = nfc
            for k in range(nfr.size):
                nf = min(nf, nfr[k])
        if n_abs % block == 0:
            if clean == 1:
                head = (head + 1) % K
                for j in range(L):
                    snaps[head, j] = wr[j]
            clean = 1
    st[_PY], st[_PE], st[_PH], st[_NFC] = py, pe, ph, nfc
    st[_PK], st[_SC], st[_GY], st[_GX] = pk, sc, gy, gx
    st[_EY], st[_EE], st[_CY], st[_CE], st[_YP] = ey, ee, cy, ce, yp
    ist[_N], ist[_HOLD], ist[_RUN], ist[_CONV], ist[_CLEAN], ist[_SHEAD] = n_abs, hold, run, conv, clean, head
    ist[_ADAPT], ist[_KN] = adapted, kn


def _alpha(ms: float, sample_rate: int) -> float:
    """One-pole smoothing coefficient for a ``ms`` time constant."""
    return 1.0 - math.exp(-1000.0 / (ms * sample_rate))


def _params(fs: int, taps: int, step_size: float) -> np.ndarray:
    """Parameter vector of :func:`_aec_run` for ``taps`` at ``fs`` (order as unpacked there)."""
    L = taps
    ms = fs / 1000.0
    return np.array([
        step_size, _PREEMPH,
        L * _FLOOR_MS * 0.1,                  # fixed NLMS regularisation
        L * _FLOOR_MS,                        # reference activity: energy over the taps
        _alpha(_POWER_MS, fs), _alpha(_ERLE_MS, fs), _alpha(_ERLE_MS, fs),
        10.0 ** (_DT_RESIDUAL_DB / 10.0),
        10.0 ** (_DT_GEIGEL_DB / 10.0),
        round(_DT_HANG_MS * ms),
        round(_DT_TIMEOUT_S * fs),
        max(round(_SNAP_BLOCK_MS * ms), 1),
        10.0 ** (_CONV_ON_DB / 10.0), 10.0 ** (_CONV_OFF_DB / 10.0), round(_CONV_MIN_S * fs),
        max(round(_NOISE_BLOCK_MS * ms), 1),
        _NOISE_MARGIN, _MU_MIN_FRAC, _NOISE_REG,
        math.exp(-1.0 / (_PEAK_DECAY_S * fs)), 10.0 ** (_ADAPT_REL_DB / 10.0),
        10.0 ** (_DT_GEIGEL_CONVERGED_DB / 10.0),
        _ROBUST_K ** 2, _alpha(_ROBUST_MS, fs),
        10.0 ** (_DT_RESIDUAL_MARGIN_DB / 10.0), 10.0 ** (_DT_LOUDER_DB / 10.0),
    ], np.float64)
