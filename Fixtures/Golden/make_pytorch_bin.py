"""pytorch_model.bin as PyTorch writes it, for the PyBridge loader (Engine/Loading/PyTorchPickle.cs).

models/bert-tiny-pickle/ holds bert-tiny-random's weights saved by torch.save (the zip format of PyTorch >= 1.6, as
Hugging Face repositories such as prajjwal1/bert-tiny ship them) beside a config.json without model_type, as
prajjwal1/bert-tiny's has none; its expected.safetensors is bert-tiny-random's (the same weights, so PyTorch's same
outputs). legacy_state_dict.bin is a one-tensor state dict in PyTorch's pre-1.6 format, which the loader must refuse
with a message. Run: python3 Fixtures/Golden/make_pytorch_bin.py (PyTorch 1.13, Debian's python3-torch).
"""
import json
import os
import shutil
import struct

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
source = os.path.join(here, "models", "bert-tiny-random")
target = os.path.join(here, "models", "bert-tiny-pickle")


def read_safetensors(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    dtypes = {"F32": np.float32, "I64": np.int64, "I32": np.int32}
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[start:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"]).copy())
    return tensors


os.makedirs(target, exist_ok=True)
state = read_safetensors(os.path.join(source, "model.safetensors"))
torch.save(state, os.path.join(target, "pytorch_model.bin"))
with open(os.path.join(source, "config.json")) as f:
    config = json.load(f)
config.pop("model_type")
config.pop("architectures")
with open(os.path.join(target, "config.json"), "w") as f:
    json.dump(config, f, indent=2, sort_keys=True)
    f.write("\n")
shutil.copy(os.path.join(source, "expected.safetensors"), os.path.join(target, "expected.safetensors"))

torch.save({"weight": torch.arange(6, dtype=torch.float32).reshape(2, 3)}, os.path.join(here, "legacy_state_dict.bin"),
           _use_new_zipfile_serialization=False)
print("wrote", target, "and legacy_state_dict.bin")
