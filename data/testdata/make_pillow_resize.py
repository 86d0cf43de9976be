# Regenerates pillow_resize.json: Pillow's resize of a fixed 13x9 RGB pattern
# over several boxes and filters, the reference for the Go resampler.
# Run with Debian's python3-pil: /usr/bin/python3 make_pillow_resize.py
import json
import PIL
from PIL import Image

W, H = 13, 9
img = Image.new("RGB", (W, H))
img.putdata([tuple((x * 37 + y * 91 + c * 53) % 256 for c in range(3))
             for y in range(H) for x in range(W)])
cases = []
for name, filt in [("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC)]:
    for box, (ow, oh) in [((0, 0, 13, 9), (5, 4)),
                          ((2.5, 1.25, 11.75, 8), (7, 6)),
                          ((1, 1, 5, 4), (8, 6)),
                          ((0, 0, 13, 9), (13, 9))]:
        out = img.resize((ow, oh), resample=filt, box=box)
        cases.append({"filter": name, "box": box, "w": ow, "h": oh,
                      "pixels": [v for px in out.getdata() for v in px]})
json.dump({"pillow": PIL.__version__, "width": W, "height": H, "cases": cases},
          open("pillow_resize.json", "w"))
