"""Writes examples/classify/imagenet_classes.txt: the 1000 ImageNet-1k class
names, one per line in class-index order, as torchvision ships them.

Run with Debian's PyTorch: /usr/bin/python3 scripts/imagenet_classes.py
"""
import pathlib

from torchvision.models._meta import _IMAGENET_CATEGORIES

out = pathlib.Path(__file__).resolve().parent.parent / "examples" / "classify" / "imagenet_classes.txt"
assert len(_IMAGENET_CATEGORIES) == 1000
out.write_text("\n".join(_IMAGENET_CATEGORIES) + "\n")
print(f"wrote {out}")
