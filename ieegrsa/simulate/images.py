"""Procedural stimulus images: cartoon faces and non-face localizer images.

A face's *identity* is carried only by traits that do not change with expression (head shape and
width, jaw, eye spacing and size, iris colour, nose, ears, hair style and colour, skin tone); its
*expression* only by what facial muscles move (mouth curvature, opening and width, teeth, brow
height and tilt, eye opening, cheek folds, nose wrinkles, forehead lines). So an image set drawn
here has a clean identity × expression design, as a face-viewing experiment needs.

Faces are drawn at twice the output size and downsampled, for anti-aliased edges. Everything is
deterministic in the seed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["EXPRESSION_SHAPES", "identity_traits", "draw_face", "draw_house", "draw_car",
           "phase_scramble"]

_BACKGROUND = (196, 196, 196)
_CLOTHES = (70, 74, 82)
_SKIN = np.array([(255, 226, 200), (240, 196, 164), (222, 170, 120), (196, 136, 86),
                  (146, 94, 58), (96, 62, 42)], float)
_HAIR = np.array([(24, 20, 18), (62, 40, 26), (112, 76, 44), (196, 160, 98), (150, 62, 30),
                  (150, 150, 150)], float)
_IRIS = np.array([(70, 44, 26), (60, 110, 170), (70, 120, 80), (120, 90, 50), (30, 24, 20)], float)
_HAIR_STYLES = ("bald", "short", "long", "fringe", "curly", "sidepart")

#: Muscle-driven shape parameters per expression. ``curve``: mouth-corner lift (fraction of the
#: mouth half-width, + up); ``open``: lip separation; ``width``: mouth width factor; ``teeth``:
#: ``upper``/``both``/``lower``/None; ``lip_raise``: upper-lip raise; ``asym``: extra lift of one
#: corner; ``brow``: brow raise; ``tilt``: inner-brow raise (+ up, - knitted); ``eye``: upper-lid
#: opening; ``lower_lid``: lower-lid height (< 1 = pushed up by the cheeks); ``folds``: cheek folds;
#: ``wrinkle``: nose wrinkles; ``forehead``: horizontal forehead lines.
EXPRESSION_SHAPES = {
    "neutral": dict(curve=0.0, open=0.0, width=1.0, teeth=None, lip_raise=0.0, asym=0.0,
                    brow=0.0, tilt=0.0, eye=1.0, lower_lid=1.0, folds=False, wrinkle=False,
                    forehead=False),
    "happy": dict(curve=0.42, open=0.35, width=1.18, teeth="upper", lip_raise=0.0, asym=0.0,
                  brow=0.05, tilt=0.0, eye=0.7, lower_lid=0.45, folds=True, wrinkle=False,
                  forehead=False),
    "sad": dict(curve=-0.4, open=0.0, width=0.9, teeth=None, lip_raise=0.0, asym=0.0,
                brow=0.1, tilt=0.9, eye=0.75, lower_lid=1.0, folds=False, wrinkle=False,
                forehead=False),
    "angry": dict(curve=-0.12, open=0.2, width=0.88, teeth="both", lip_raise=0.05, asym=0.0,
                  brow=-0.3, tilt=-0.7, eye=0.8, lower_lid=0.8, folds=False, wrinkle=False,
                  forehead=False),
    "fearful": dict(curve=-0.12, open=0.5, width=1.22, teeth="lower", lip_raise=0.0, asym=0.0,
                    brow=0.5, tilt=0.5, eye=1.5, lower_lid=1.0, folds=False, wrinkle=False,
                    forehead=True),
    "surprised": dict(curve=0.0, open=1.1, width=0.62, teeth=None, lip_raise=0.0, asym=0.0,
                      brow=0.8, tilt=0.0, eye=1.55, lower_lid=1.0, folds=False, wrinkle=False,
                      forehead=True),
    "disgusted": dict(curve=-0.2, open=0.22, width=0.92, teeth="upper", lip_raise=0.3, asym=0.22,
                      brow=-0.3, tilt=-0.3, eye=0.6, lower_lid=0.55, folds=True, wrinkle=True,
                      forehead=False),
}


def identity_traits(rng) -> dict:
    """Draw the expression-invariant traits of one person.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (one generator per identity keeps traits stable across presets).

    Returns
    -------
    dict
        Geometry in fractions of the canvas or face size and colours as RGB tuples.
    """
    def mix(palette, spread, p=None):
        i = rng.choice(len(palette), p=p)
        colour = palette[i] + rng.normal(0, spread, 3)
        return tuple(int(v) for v in np.clip(colour, 0, 255))

    skin = mix(_SKIN, 6)
    hair = mix(_HAIR, 5, p=[0.3, 0.25, 0.18, 0.12, 0.08, 0.07])
    return {
        "rx": rng.uniform(0.25, 0.31), "ry": rng.uniform(0.33, 0.38), "jaw": rng.uniform(0.5, 0.85),
        "eye_y": rng.uniform(-0.12, -0.02), "eye_sep": rng.uniform(0.34, 0.46),
        "eye_w": rng.uniform(0.2, 0.26), "iris": mix(_IRIS, 10),
        "brow_gap": rng.uniform(0.05, 0.065), "brow_th": rng.uniform(0.022, 0.036),
        "nose_len": rng.uniform(0.14, 0.24), "nose_w": rng.uniform(0.13, 0.22),
        "mouth_y": rng.uniform(0.36, 0.46), "mouth_w": rng.uniform(0.34, 0.44),
        "lip_th": rng.uniform(0.025, 0.05), "ear": rng.uniform(0.10, 0.16),
        "skin": skin, "hair": hair,
        "style": _HAIR_STYLES[rng.choice(6, p=[0.08, 0.3, 0.2, 0.15, 0.12, 0.15])],
        "hairline": rng.uniform(0.16, 0.30), "part": rng.uniform(-0.6, 0.6),
        "curls": rng.uniform(0, 2 * np.pi, 40), "neck": rng.uniform(0.36, 0.5),
    }


def _bezier(p0, c, p2, n=24):
    """Points of the quadratic Bézier curve p0 → p2 with control point c, shape (n, 2)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(c) + t ** 2 * np.asarray(p2)


def _pts(array):
    return [tuple(p) for p in np.round(array, 2)]


def _shade(colour, factor):
    return tuple(int(np.clip(v * factor, 0, 255)) for v in colour)


#: dlib's 5 landmarks, in its order (the columns ``<name>_x``, ``<name>_y`` of stimuli.tsv).
LANDMARKS = ("right_eye_outer", "right_eye_inner", "left_eye_outer", "left_eye_inner", "nose")


def face_geometry(traits, expression, size=256) -> dict:
    """Where :func:`draw_face` puts the face: its box and dlib's 5 landmarks, in pixels.

    The landmarks are the drawn eye corners and the base of the nose, in dlib's order (image-
    right eye outer and inner corner, image-left eye outer and inner corner, nose). The box is
    placed about the eyes as dlib's face detector places it on photographs (fitted on the London
    faces: from 0.84 outer-eye spans left and right of the eyes' midpoint, 0.49 spans above the
    eye line to 1.2 below), so that a drawn face is framed like a photographed one.

    Returns
    -------
    dict
        ``box_x0, box_y0, box_x1, box_y1`` and ``<landmark>_x``, ``<landmark>_y`` (floats).
    """
    e = EXPRESSION_SHAPES[expression]
    S = 2 * size
    cx, cy = S / 2, 0.47 * S
    rx, ry = traits["rx"] * S, traits["ry"] * S
    ey = cy + traits["eye_y"] * ry
    ew = traits["eye_w"] * rx
    unit = 0.1 * ry
    ny = ey + traits["nose_len"] * S - (0.3 * unit if e["wrinkle"] else 0.0)
    corners = []
    for side in (1, -1):  # image-right eye first, as dlib orders them
        ex = cx + side * traits["eye_sep"] * rx
        corners += [(ex + side * ew, ey), (ex - side * ew, ey)]  # outer, inner
    points = np.array([*corners, (cx, ny + 0.3 * unit)]) / 2  # canvas -> image pixels
    span = points[0, 0] - points[2, 0]
    mid_x, eye_y = points[:4, 0].mean(), points[:4, 1].mean()
    out = {"box_x0": mid_x - 0.84 * span, "box_y0": eye_y - 0.49 * span,
           "box_x1": mid_x + 0.84 * span, "box_y1": eye_y + 1.2 * span}
    for name, (x, y) in zip(LANDMARKS, points):
        out[f"{name}_x"], out[f"{name}_y"] = float(x), float(y)
    return {k: round(float(v), 1) for k, v in out.items()}


def draw_face(traits, expression, size=256) -> Image.Image:
    """Draw one face.

    Parameters
    ----------
    traits : dict
        From :func:`identity_traits`.
    expression : str
        A key of :data:`EXPRESSION_SHAPES`.
    size : int
        Side of the square RGB image (px).

    Returns
    -------
    PIL.Image.Image
    """
    e = EXPRESSION_SHAPES[expression]
    S = 2 * size  # supersampled canvas
    img = Image.new("RGB", (S, S), _BACKGROUND)
    d = ImageDraw.Draw(img)
    t = traits
    cx, cy = S / 2, 0.47 * S
    rx, ry = t["rx"] * S, t["ry"] * S
    skin, hair = t["skin"], t["hair"]
    dark_skin = _shade(skin, 0.72)
    line_w = max(2, round(S / 160))

    # Shoulders and neck sit behind the head.
    d.ellipse([cx - 0.46 * S, cy + 0.78 * ry, cx + 0.46 * S, cy + 1.9 * ry], fill=_CLOTHES)
    nw = t["neck"] * rx
    d.rectangle([cx - nw, cy + 0.4 * ry, cx + nw, cy + 1.05 * ry], fill=_shade(skin, 0.88))

    # Head outline: an ellipse whose lower half narrows towards the chin by the jaw factor.
    theta = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    sin = np.sin(theta)
    hx = rx * np.cos(theta) * np.where(sin > 0, 1 - (1 - t["jaw"]) * sin ** 2, 1.0)
    head = np.column_stack([cx + hx, cy + ry * sin])
    top = cy - ry

    if t["style"] == "long":  # hair falling behind the shoulders
        d.rounded_rectangle([cx - 1.22 * rx, top - 0.08 * ry, cx + 1.22 * rx, cy + 1.05 * ry],
                            radius=int(rx), fill=hair)
    else:
        ear_h = t["ear"] * S
        for side in (-1, 1):
            ex = cx + side * rx * 0.97
            d.ellipse([ex - 0.35 * ear_h, cy - 0.05 * ry - ear_h / 2,
                       ex + 0.35 * ear_h, cy - 0.05 * ry + ear_h / 2], fill=skin,
                      outline=dark_skin, width=line_w)
    if t["style"] == "curly":
        angles = t["curls"]
        r_curl = 0.2 * rx
        for a in angles:
            if np.sin(a) < 0.15:  # only around the top of the head
                px, py = cx + 1.0 * rx * np.cos(a), cy - 0.15 * ry + 0.95 * ry * np.sin(a)
                d.ellipse([px - r_curl, py - r_curl, px + r_curl, py + r_curl], fill=hair)
    d.polygon(_pts(head), fill=skin)

    # Hair over the forehead: the top of the head down to the hairline.
    hairline_y = top + t["hairline"] * 2 * ry
    if t["style"] != "bald":
        cap = head[(head[:, 1] < hairline_y + 0.02 * ry)]
        cap = cap[np.argsort(np.arctan2(cap[:, 1] - cy, cap[:, 0] - cx))]
        scale = 1.04 if t["style"] != "curly" else 1.0
        cap = np.column_stack([cx + (cap[:, 0] - cx) * scale, cy + (cap[:, 1] - cy) * scale])
        if t["style"] == "fringe":
            edge = _bezier((cx + rx, hairline_y + 0.08 * ry), (cx, hairline_y + 0.22 * ry),
                           (cx - rx, hairline_y + 0.08 * ry))
        elif t["style"] == "sidepart":
            px = cx + t["part"] * rx
            edge = np.vstack([_bezier((cx + rx, hairline_y + 0.1 * ry), (px + 0.3 * rx, hairline_y),
                                      (px, hairline_y - 0.1 * ry), 12),
                              _bezier((px, hairline_y - 0.1 * ry),
                                      (px - 0.4 * rx, hairline_y + 0.15 * ry),
                                      (cx - rx, hairline_y + 0.15 * ry), 12)])
        else:
            edge = _bezier((cx + rx, hairline_y + 0.15 * ry), (cx, hairline_y - 0.12 * ry),
                           (cx - rx, hairline_y + 0.15 * ry))
        d.polygon(_pts(np.vstack([cap, edge])), fill=hair)

    unit = 0.1 * ry  # expression displacements are in tenths of the head's half-height
    brow_colour = _shade(hair, 0.8) if t["style"] != "bald" else _shade(skin, 0.45)

    # Eyes: sclera between two lid curves, iris and pupil clipped to the opening.
    ey = cy + t["eye_y"] * ry
    ew = t["eye_w"] * rx
    eh = 0.42 * ew

    # Forehead lines (raised brows), spread between the hairline and the brows.
    if e["forehead"]:
        brow_top = ey - t["brow_gap"] * S - (e["brow"] + 0.8) * unit
        for k in range(3):
            y = hairline_y + (k + 1) / 4 * (brow_top - hairline_y)
            d.line(_pts(_bezier((cx - 0.45 * rx, y + 0.02 * ry), (cx, y - 0.04 * ry),
                                (cx + 0.45 * rx, y + 0.02 * ry))), fill=dark_skin, width=line_w)

    for side in (-1, 1):
        ex = cx + side * t["eye_sep"] * rx
        inner, outer = (ex - side * ew, ey), (ex + side * ew, ey)
        upper = _bezier(inner, (ex, ey - 2 * eh * e["eye"]), outer)
        lower = _bezier(outer, (ex, ey + 1.6 * eh * e["lower_lid"] * min(e["eye"], 1.2)), inner)
        opening = _pts(np.vstack([upper, lower]))
        mask = Image.new("L", (S, S), 0)
        ImageDraw.Draw(mask).polygon(opening, fill=255)
        layer = Image.new("RGB", (S, S), (245, 245, 240))
        ld = ImageDraw.Draw(layer)
        r_iris = 0.55 * ew
        iy = ey - 0.1 * eh
        ld.ellipse([ex - r_iris, iy - r_iris, ex + r_iris, iy + r_iris], fill=t["iris"])
        r_pupil = 0.45 * r_iris
        ld.ellipse([ex - r_pupil, iy - r_pupil, ex + r_pupil, iy + r_pupil], fill=(12, 12, 12))
        ld.ellipse([ex + 0.2 * r_iris, iy - 0.5 * r_iris, ex + 0.45 * r_iris,
                    iy - 0.25 * r_iris], fill=(250, 250, 250))
        img.paste(layer, (0, 0), mask)
        d.line(_pts(upper), fill=(30, 24, 22), width=2 * line_w, joint="curve")
        d.line(_pts(lower), fill=dark_skin, width=line_w)
        if e["lower_lid"] < 0.8:  # cheeks pushed up under the eye
            d.line(_pts(_bezier((ex - side * 0.8 * ew, ey + 1.6 * eh), (ex, ey + 2.3 * eh),
                                (ex + side * 0.9 * ew, ey + 1.5 * eh))), fill=dark_skin,
                   width=line_w)

        # Brow: raised by `brow`, its inner end by `tilt` (knitted when negative).
        by = ey - t["brow_gap"] * S - e["brow"] * unit
        b_inner = (ex - side * 1.05 * ew, by - e["tilt"] * unit)
        b_outer = (ex + side * 1.25 * ew, by + 0.15 * unit - 0.3 * e["brow"] * unit)
        brow = _bezier(b_inner, (ex, by - 0.5 * unit - 0.3 * e["brow"] * unit), b_outer)
        d.line(_pts(brow), fill=brow_colour, width=int(t["brow_th"] * S), joint="curve")

    # Nose: alae, nostrils and tip; wrinkles at the bridge for disgust.
    ny = ey + t["nose_len"] * S - (0.3 * unit if e["wrinkle"] else 0.0)
    nw = t["nose_w"] * rx
    tip = _bezier((cx - nw, ny - 0.1 * unit), (cx, ny + 0.7 * unit), (cx + nw, ny - 0.1 * unit))
    d.line(_pts(tip), fill=dark_skin, width=line_w)
    for side in (-1, 1):
        nx = cx + side * 0.45 * nw
        d.ellipse([nx - 0.22 * nw, ny - 0.18 * nw, nx + 0.22 * nw, ny + 0.05 * nw],
                  fill=_shade(skin, 0.45))
        ala = _bezier((cx + side * 0.3 * nw, ny - 2.2 * unit),
                      (cx + side * 0.5 * nw, ny - 1.2 * unit),
                      (cx + side * 0.95 * nw, ny - 0.5 * unit))
        d.line(_pts(ala), fill=_shade(skin, 0.85), width=line_w)
        if e["wrinkle"]:
            for k in range(2):
                wy = ey + (0.4 + 0.45 * k) * unit
                d.line([(cx + side * 0.15 * nw, wy), (cx + side * 0.55 * nw, wy + 0.3 * unit)],
                       fill=dark_skin, width=line_w)

    # Mouth: corners lifted by `curve`; inner lips opened by `open`; teeth clipped to the opening.
    my = cy + t["mouth_y"] * ry
    mw = t["mouth_w"] * rx * e["width"]
    lift = e["curve"] * mw
    left = np.array([cx - mw, my - lift])
    right = np.array([cx + mw, my - lift - e["asym"] * mw])
    mid_y = my + lift - e["lip_raise"] * unit
    gap = e["open"] * 0.9 * mw
    upper_inner = _bezier(left, (cx, mid_y - 0.35 * gap), right)
    lower_inner = _bezier(right, (cx, mid_y + lift * 0.3 + gap), left)
    lip = t["lip_th"] * S
    upper_outer = _bezier(left, (cx, mid_y - 0.35 * gap - 2.2 * lip), right)
    lower_outer = _bezier(right, (cx, mid_y + lift * 0.3 + gap + 2.6 * lip), left)
    lip_colour = tuple(int(v) for v in 0.6 * np.array(skin) + 0.4 * np.array((170, 60, 70)))
    if e["folds"]:  # nasolabial folds of a raised upper lip / cheeks
        for side, corner in ((-1, left), (1, right)):
            d.line(_pts(_bezier((cx + side * 1.1 * nw, ny - 0.2 * unit),
                                (corner[0] + side * 0.35 * mw, ny + 0.8 * unit),
                                corner + (side * 0.15 * mw, 0.6 * unit))),
                   fill=dark_skin, width=line_w)
    d.polygon(_pts(np.vstack([upper_outer, lower_outer])), fill=lip_colour)
    if gap > 0:
        opening = _pts(np.vstack([upper_inner, lower_inner]))
        mask = Image.new("L", (S, S), 0)
        ImageDraw.Draw(mask).polygon(opening, fill=255)
        layer = Image.new("RGB", (S, S), (60, 16, 20))
        ld = ImageDraw.Draw(layer)
        tooth_h = 0.28 * mw
        if e["teeth"] in ("upper", "both"):
            ld.polygon(_pts(np.vstack([upper_inner, upper_inner[::-1] + (0, tooth_h)])),
                       fill=(240, 238, 228))
        if e["teeth"] in ("lower", "both"):
            ld.polygon(_pts(np.vstack([lower_inner, lower_inner[::-1] - (0, 0.8 * tooth_h)])),
                       fill=(232, 230, 220))
        img.paste(layer, (0, 0), mask)
    else:
        d.line(_pts(upper_inner), fill=_shade(lip_colour, 0.55), width=line_w, joint="curve")
    if e["curve"] < -0.2:  # chin boss of a pouting lower lip
        d.line(_pts(_bezier((cx - 0.5 * mw, my + 2.2 * unit), (cx, my + 1.6 * unit),
                            (cx + 0.5 * mw, my + 2.2 * unit))), fill=dark_skin, width=line_w)

    img = img.resize((size, size), Image.LANCZOS)
    return img.filter(ImageFilter.GaussianBlur(0.4))


def draw_house(rng, size=256) -> Image.Image:
    """Draw a house of random proportions and colours (a non-face localizer image).

    Parameters
    ----------
    rng : numpy.random.Generator
    size : int
        Side of the square RGB image (px).
    """
    S = 2 * size
    img = Image.new("RGB", (S, S), _BACKGROUND)
    d = ImageDraw.Draw(img)
    colour = lambda lo, hi: tuple(int(v) for v in rng.uniform(lo, hi, 3))  # noqa: E731
    w, h = rng.uniform(0.45, 0.7) * S, rng.uniform(0.3, 0.42) * S
    x0, y1 = (S - w) / 2, 0.85 * S
    y0 = y1 - h
    d.rectangle([0, y1, S, S], fill=(110, 140, 90))
    d.rectangle([x0, y0, x0 + w, y1], fill=colour(120, 230))
    roof_h = rng.uniform(0.15, 0.3) * S
    if rng.random() < 0.5:
        cx0 = x0 + rng.uniform(0.6, 0.8) * w
        d.rectangle([cx0, y0 - roof_h, cx0 + 0.08 * w, y0], fill=colour(60, 140))
    d.polygon([(x0 - 0.06 * w, y0), (S / 2, y0 - roof_h), (x0 + 1.06 * w, y0)],
              fill=colour(40, 150))
    door_x = x0 + rng.uniform(0.15, 0.7) * w
    d.rectangle([door_x, y1 - 0.55 * h, door_x + 0.15 * w, y1], fill=colour(40, 120))
    n_win = int(rng.integers(2, 5))
    win_colour = colour(150, 220)
    for k in range(n_win):
        wx = x0 + (k + 0.5) * w / n_win - 0.06 * w
        if abs(wx - door_x) < 0.15 * w:
            continue
        d.rectangle([wx, y0 + 0.2 * h, wx + 0.12 * w, y0 + 0.45 * h], fill=win_colour,
                    outline=(250, 250, 250), width=max(2, S // 128))
    return img.resize((size, size), Image.LANCZOS)


def draw_car(rng, size=256) -> Image.Image:
    """Draw a side view of a car of random proportions and colour (a non-face localizer image).

    Parameters
    ----------
    rng : numpy.random.Generator
    size : int
        Side of the square RGB image (px).
    """
    S = 2 * size
    img = Image.new("RGB", (S, S), _BACKGROUND)
    d = ImageDraw.Draw(img)
    body = tuple(int(v) for v in rng.uniform(30, 230, 3))
    L, H = rng.uniform(0.7, 0.85) * S, rng.uniform(0.14, 0.2) * S
    x0, y0 = (S - L) / 2, 0.55 * S
    d.rectangle([0, y0 + H + 0.06 * S, S, S], fill=(120, 120, 118))
    cab_l, cab_r = x0 + rng.uniform(0.18, 0.3) * L, x0 + rng.uniform(0.62, 0.78) * L
    cab_h = rng.uniform(0.6, 0.9) * H
    d.polygon([(cab_l, y0 + 2), (cab_l + 0.12 * L, y0 - cab_h), (cab_r - 0.08 * L, y0 - cab_h),
               (cab_r, y0 + 2)], fill=body)
    d.polygon([(cab_l + 0.04 * L, y0), (cab_l + 0.14 * L, y0 - 0.8 * cab_h),
               (cab_r - 0.1 * L, y0 - 0.8 * cab_h), (cab_r - 0.03 * L, y0)], fill=(170, 200, 220))
    d.rounded_rectangle([x0, y0, x0 + L, y0 + H], radius=int(0.3 * H), fill=body)
    r = 0.62 * H
    for wx in (x0 + 0.2 * L, x0 + 0.8 * L):
        d.ellipse([wx - r, y0 + H - r, wx + r, y0 + H + r], fill=(25, 25, 25))
        d.ellipse([wx - 0.45 * r, y0 + H - 0.45 * r, wx + 0.45 * r, y0 + H + 0.45 * r],
                  fill=(170, 170, 170))
    return img.resize((size, size), Image.LANCZOS)


def phase_scramble(image, rng) -> Image.Image:
    """Randomise the Fourier phase of an image, keeping its amplitude spectrum and mean colour.

    Phase-scrambled faces are the classic low-level control of face localizers: same spatial
    frequencies and colours, no face.

    Parameters
    ----------
    image : PIL.Image.Image
        RGB source image.
    rng : numpy.random.Generator
    """
    x = np.asarray(image, dtype=float)
    spectrum = np.fft.fft2(x, axes=(0, 1))
    # The phase of a real noise image is conjugate-symmetric, so the result stays real; the same
    # phase for all three channels keeps colours coherent.
    noise_phase = np.angle(np.fft.fft2(rng.standard_normal(x.shape[:2])))[..., None]
    noise_phase[0, 0] = 0.0  # keep the mean colour
    new_phase = np.angle(spectrum) + noise_phase
    scrambled = np.real(np.fft.ifft2(np.abs(spectrum) * np.exp(1j * new_phase), axes=(0, 1)))
    return Image.fromarray(np.clip(np.round(scrambled), 0, 255).astype(np.uint8))
