"""Exact float32 on CUDA: cuDNN's TF32 is off inside model steps, restored after."""

import threading

import torch

from napari_sam2.model import precision


def test_tf32_off_inside_nested_and_concurrent_steps_and_restored_after():
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = True
    inside, entered, release = [], threading.Event(), threading.Event()

    def other_step():  # e.g. the plugin's prefetch thread
        with precision._exact_cudnn_convolutions():
            entered.set()
            release.wait(5)
            inside.append(torch.backends.cudnn.allow_tf32)

    try:
        worker = threading.Thread(target=other_step)
        with precision._exact_cudnn_convolutions():
            worker.start()
            entered.wait(5)
            with precision._exact_cudnn_convolutions():  # segment() calls decode()
                inside.append(torch.backends.cudnn.allow_tf32)
            inside.append(torch.backends.cudnn.allow_tf32)
        # The other step still runs: TF32 stays off until it ends too.
        inside.append(torch.backends.cudnn.allow_tf32)
        release.set()
        worker.join(5)
        assert inside == [False, False, False, False]
        assert torch.backends.cudnn.allow_tf32 is True
    finally:
        torch.backends.cudnn.allow_tf32 = before
