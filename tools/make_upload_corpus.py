"""make_upload_corpus.py: the seed corpora of the upload and multipart fuzz targets.

Writes tests/fuzz/corpus/upload/ (small PNG, JPEG and WebP files of the kinds
service/upload.c decodes: each PNG colour type, interlaced, with text and EXIF
chunks; baseline, progressive, grey and CMYK JPEG; lossy, lossless, alpha and
animated WebP) and tests/fuzz/corpus/multipart/ (a Content-Type line, then a
body). Small on purpose: libFuzzer grows the corpus itself.

Run with Debian's Python and python3-pil: /usr/bin/python3 tools/make_upload_corpus.py
"""
import io
import os

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
UP = os.path.join(HERE, "..", "tests", "fuzz", "corpus", "upload")
MP = os.path.join(HERE, "..", "tests", "fuzz", "corpus", "multipart")


def img(mode, w=7, h=5):
    im = Image.new(mode, (w, h))
    bands = len(mode) if mode not in ("P", "L", "1", "I;16", "CMYK") else (4 if mode == "CMYK" else 1)
    data = []
    for y in range(h):
        for x in range(w):
            v = [(x * 37 + y * 11 + b * 60) % 256 for b in range(bands)]
            if mode == "1":
                v = [255 if (x + y) % 2 else 0]
            if mode == "I;16":
                v = [(x * 9000 + y * 300) % 65536]
            data.append(tuple(v) if bands > 1 else v[0])
    im.putdata(data)
    return im


def save(d, name, im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    with open(os.path.join(d, name), "wb") as f:
        f.write(b.getvalue())


def main():
    os.makedirs(UP, exist_ok=True)
    os.makedirs(MP, exist_ok=True)
    save(UP, "rgb.png", img("RGB"), "PNG")
    save(UP, "rgba.png", img("RGBA"), "PNG")
    save(UP, "gray1.png", img("1"), "PNG")
    save(UP, "gray16.png", img("I;16"), "PNG")
    save(UP, "la.png", img("LA"), "PNG")
    p = img("RGB").convert("P", palette=Image.ADAPTIVE, colors=8)
    save(UP, "palette_trns.png", p, "PNG", transparency=0)
    save(UP, "interlaced.png", img("RGB", 11, 9), "PNG", interlace=1)
    from PIL import PngImagePlugin
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Comment", "GPS 48.85N 2.29E")
    save(UP, "text_exif.png", img("RGB"), "PNG", pnginfo=meta, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00")
    save(UP, "baseline.jpg", img("RGB", 16, 16), "JPEG", quality=90)
    save(UP, "progressive.jpg", img("RGB", 16, 16), "JPEG", quality=90, progressive=True)
    save(UP, "gray.jpg", img("L", 8, 8), "JPEG")
    save(UP, "cmyk.jpg", img("CMYK", 8, 8), "JPEG")
    save(UP, "lossy.webp", img("RGB", 16, 16), "WEBP", quality=80)
    save(UP, "lossless.webp", img("RGB"), "WEBP", lossless=True)
    save(UP, "alpha.webp", img("RGBA"), "WEBP", quality=80)
    frames = [img("RGB", 8, 8), img("RGB", 8, 8).rotate(90)]
    save(UP, "animated.webp", frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)

    bodies = {
        "two_fields": (b"multipart/form-data; boundary=XyZ\n",
                       b"--XyZ\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na fox\r\n"
                       b"--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
                       b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\r\n--XyZ--\r\n"),
        "quoted": (b"multipart/form-data; boundary=\"a'()+_,-./:=? b\"\n",
                   b"preamble\r\n--a'()+_,-./:=? b \r\ncontent-disposition: form-data; NAME=n; filename=\"x\\\"y\"\r\n"
                   b"\r\n\r\n--a'()+_,-./:=? b--epilogue"),
        "binary": (b"multipart/form-data; boundary=b\n",
                   b"--b\r\nContent-Disposition: form-data; name=f\r\n\r\n\r\n--bx\r\n\x00\xff\r\r\n\r\n--b--"),
        "unterminated": (b"multipart/form-data; boundary=b\n",
                         b"--b\r\nContent-Disposition: form-data; name=f\r\n\r\ndata"),
    }
    for name, (ct, body) in bodies.items():
        with open(os.path.join(MP, name), "wb") as f:
            f.write(ct + body)


if __name__ == "__main__":
    main()
