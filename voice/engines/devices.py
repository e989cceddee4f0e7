"""Which device and batch size the backends run with: pure functions of config and hardware."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # "cpu" | "cuda"
    compute_type: str  # "int8" | "float16" | ...


def choose_device(device: str = "auto", compute_type: str = "auto", cuda_devices: int = 0) -> DeviceChoice:
    """CUDA + float16 when CUDA is requested or available, else CPU + int8.

    A pure function of the configured values and the number of CUDA devices seen.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"asr.device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and cuda_devices <= 0:
        raise ValueError("asr.device is 'cuda' but no CUDA device is available")
    chosen = device if device != "auto" else ("cuda" if cuda_devices > 0 else "cpu")
    if compute_type == "auto":
        compute_type = "float16" if chosen == "cuda" else "int8"
    return DeviceChoice(chosen, compute_type)


# decodes per cross-stream batch when asr.batch_size is 0 (auto)
AUTO_BATCH_CUDA = 8


def choose_batch_size(configured: int, device: DeviceChoice) -> int:
    """``asr.batch_size``, or when 0: batches of 8 on CUDA, none on CPU (measured: on 2 cores,
    two workers decoding alone beat one batching worker; README "How it works")."""
    if configured:
        return configured
    return AUTO_BATCH_CUDA if device.device == "cuda" else 1


def cuda_device_count() -> int:
    """CUDA devices CTranslate2 can use (0 when it was built without CUDA or has no GPU)."""
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # pragma: no cover - depends on the installed build
        return 0


