"""Draw the book's schematic figures (matplotlib only) into book/figures/.

Run ``python book/figures/make_figures.py`` from the repository root; it rewrites

- ``gan_training_loop.png``: one training step of a GAN, two players, two optimizers;
- ``adversarial_families.png``: the min-max game of each adversarial family, on one page;
- ``apr_perturbation.png``: APR's worst-case move of each embedding row inside its own ball;
- ``privacy_threat_model.png``: the attacker of the privacy chapter, and gradient reversal;
- ``gan_recommenders.png``: IRGAN's policy gradient beside CFGAN's gradient through D;
- ``sasrec_causal.png``: SASRec's causal self-attention over a history;
- ``coldstart_game.png``: the GAR-style game between a generator and a recommender;
- ``shilling_threat_model.png``: fake accounts poisoning every real user's model;
- ``item_text_attack.png``: the language-model chapter's attack surface, seller to users.

The PNGs are committed; the script is here so that a figure can be changed and redrawn.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.text

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch  # noqa: E402

HERE = Path(__file__).resolve().parent
BLUE, ORANGE, GREEN, RED, GREY = "#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8c8c8c"
LIGHT = {BLUE: "#dbe4f2", ORANGE: "#f8e1d2", GREEN: "#dcefe0", RED: "#f2d9da", GREY: "#eeeeee"}
plt.rcParams.update({"font.size": 11, "mathtext.fontset": "cm", "savefig.dpi": 130})


def box(ax, x, y, text, color=GREY, w=2.2, h=0.8, fontsize=11):
    """A rounded box centred at (x, y); returns its centre."""
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=LIGHT[color],
            edgecolor=color,
            linewidth=1.6,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return x, y


def arrow(ax, start, end, text="", color="black", style="-|>", rad=0.0, offset=(0, 0.18), **kw):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=14,
            color=color,
            linewidth=1.5,
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=2,
            shrinkB=2,
            **kw,
        )
    )
    if text:
        mx, my = (start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1]
        ax.text(mx, my, text, ha="center", va="bottom", fontsize=9.5, color=color)


def canvas(width, height, xlim, ylim):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def save(fig, name, text_scale=1.0):
    # The book shows each figure at the text column's width (about 700 px): scale the lettering
    # of the wide figures up so that it reads like the text around it.
    for text in fig.findobj(matplotlib.text.Text):
        text.set_fontsize(text.get_fontsize() * text_scale)
    fig.savefig(HERE / name, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    print(f"wrote book/figures/{name}")


def gan_training_loop():
    fig, ax = canvas(10, 5.4, (0, 12.5), (-1.4, 5.8))
    z = box(ax, 1.2, 1.4, "noise\n$z \\sim \\mathcal{N}(0, I)$", GREY, w=2.0, h=1.0)
    g = box(ax, 4.0, 1.4, "generator $G_\\theta$", BLUE, w=2.4)
    fake = box(ax, 6.6, 1.4, "fakes $G(z)$", BLUE, w=1.8)
    data = box(ax, 6.6, 4.4, "real data $x$", GREY, w=1.8)
    d = box(ax, 9.0, 2.9, "discriminator\n$D_\\phi$ (a logit)", ORANGE, w=2.1, h=1.1)
    ld = box(ax, 11.5, 4.4, "$L_D$", ORANGE, w=1.2, h=0.7)
    lg = box(ax, 11.5, 1.4, "$L_G$", BLUE, w=1.2, h=0.7)
    arrow(ax, (z[0] + 1.0, z[1]), (g[0] - 1.2, g[1]))
    arrow(ax, (g[0] + 1.2, g[1]), (fake[0] - 0.9, fake[1]))
    arrow(ax, (fake[0] + 0.9, fake[1] + 0.2), (d[0] - 1.05, d[1] - 0.35))
    arrow(ax, (data[0] + 0.9, data[1] - 0.2), (d[0] - 1.05, d[1] + 0.35))
    arrow(ax, (d[0] + 0.9, d[1] + 0.55), (ld[0] - 0.4, ld[1] - 0.35), "", ORANGE)
    ax.text(
        11.5,
        3.65,
        "targets: real → 1,\nfake → 0",
        ha="center",
        va="top",
        fontsize=9.5,
        color=ORANGE,
    )
    arrow(ax, (d[0] + 0.9, d[1] - 0.55), (lg[0] - 0.4, lg[1] + 0.35), "", BLUE)
    ax.text(11.5, 2.2, "target:\nfake → 1", ha="center", va="center", fontsize=9.5, color=BLUE)
    # the two updates
    arrow(ax, (ld[0], ld[1] + 0.35), (d[0] + 0.3, d[1] + 0.55), "", ORANGE, rad=0.5, linestyle="--")
    ax.text(
        6.3,
        -0.55,
        "step 1: optimizer$_D$ updates $\\phi$ only, from $L_D$",
        color=ORANGE,
        fontsize=10,
        ha="center",
    )
    arrow(
        ax,
        (lg[0] - 0.2, lg[1] - 0.35),
        (g[0] + 0.2, g[1] - 0.4),
        "",
        BLUE,
        rad=-0.25,
        linestyle="--",
    )
    ax.text(
        6.3,
        -1.1,
        "step 2: optimizer$_G$ updates $\\theta$ only; the gradient flows "
        "through $D$ (fakes made inside $G$'s tape)",
        color=BLUE,
        fontsize=10,
        ha="center",
    )
    ax.text(
        0.1, 5.35, "One training step (advrec.gan.GAN.train_step)", fontsize=12, fontweight="bold"
    )
    save(fig, "gan_training_loop.png", text_scale=1.15)


def adversarial_families():
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.2))
    panels = [
        (
            "Adversarial training for robustness (APR)",
            "recommender $\\Theta$",
            "worst-case perturbation $\\Delta$",
            "$\\min_{\\Theta}\\ \\max_{\\|\\Delta_r\\| \\leq \\epsilon}\\ "
            "L_{\\mathrm{BPR}}(\\Theta + \\Delta)$",
            "the perturbation is one gradient step (FGSM);\n"
            "the recommender trains on clean + perturbed loss",
            RED,
        ),
        (
            "GAN-based recommenders (IRGAN, CFGAN)",
            "generator $G$",
            "discriminator $D$",
            "$\\min_{G}\\ \\max_{D}\\ \\mathbb{E}_{\\mathrm{real}}\\log D"
            " + \\mathbb{E}_{G}\\log(1 - D)$",
            "$G$ proposes items (or purchase vectors), $D$ tells them\n"
            "from real ones; generated data can also augment training",
            BLUE,
        ),
        (
            "Adversarial representations (privacy, fairness)",
            "recommender $P, Q$",
            "attribute adversary $f_\\phi$",
            "$\\min_{P,Q}\\ \\max_{\\phi}\\ L_{\\mathrm{BPR}}(P,Q)"
            " - \\lambda\\, L_{\\mathrm{adv}}(\\phi, P)$",
            "the adversary predicts gender or age from $p_u$;\n"
            "the recommender learns factors that defeat it",
            GREEN,
        ),
        (
            "Attacks and defences (shilling, poisoning)",
            "defender: recommender $\\theta$",
            "attacker: fake profiles $F$",
            "$\\max_{F}\\ \\mathrm{harm}(\\theta_F),\\quad "
            "\\theta_F = \\arg\\min_\\theta L(\\theta;\\ \\mathcal{D} \\cup F)$",
            "the attacker injects profiles to promote an item;\n"
            "the defender detects them or trains robustly",
            ORANGE,
        ),
    ]
    for ax, (title, player_min, player_max, game, note, color) in zip(
        axes.ravel(), panels, strict=True
    ):
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 6)
        ax.axis("off")
        ax.add_patch(
            FancyBboxPatch(
                (0.1, 0.1),
                9.8,
                5.8,
                boxstyle="round,pad=0.02,rounding_size=0.2",
                facecolor="white",
                edgecolor=color,
                linewidth=2,
            )
        )
        ax.text(
            5, 5.35, title, ha="center", va="center", fontsize=11.5, fontweight="bold", color=color
        )
        left = box(ax, 2.55, 3.6, player_min, GREY, w=4.3, h=0.9, fontsize=10)
        right = box(ax, 7.45, 3.6, player_max, color, w=4.3, h=0.9, fontsize=10)
        arrow(
            ax,
            (left[0] + 1.2, left[1] + 0.45),
            (right[0] - 1.2, right[1] + 0.45),
            "",
            color,
            style="<|-|>",
            rad=-0.45,
        )
        ax.text(2.55, 2.8, "minimises", ha="center", fontsize=9.5, color=GREY)
        ax.text(7.45, 2.8, "maximises", ha="center", fontsize=9.5, color=color)
        ax.text(5, 2.15, game, ha="center", va="center", fontsize=12)
        ax.text(5, 0.9, note, ha="center", va="center", fontsize=9.5, color="#333333")
    fig.suptitle(
        "Four families of adversarial learning in recommendation: who plays against whom",
        fontsize=13,
        y=0.99,
    )
    fig.tight_layout()
    save(fig, "adversarial_families.png", text_scale=1.15)


def apr_perturbation():
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.8), gridspec_kw={"width_ratios": [1.25, 1]})
    ax.set_aspect("equal")
    ax.set_xlim(-0.6, 4.6)
    ax.set_ylim(-0.6, 3.6)
    ax.axis("off")
    eps = 0.55
    rows = {
        "$p_u$ (the user)": (np.array([0.6, 0.8]), np.array([0.55, -0.84]), GREY),
        "$q_i$ (watched)": (np.array([2.2, 2.6]), np.array([-0.8, -0.6]), GREEN),
        "$q_j$ (not watched)": (np.array([3.4, 0.9]), np.array([0.2, 0.98]), RED),
    }
    for label, (point, direction, color) in rows.items():
        direction = direction / np.linalg.norm(direction)
        ax.add_patch(
            Circle(
                point, eps, facecolor=LIGHT[color], edgecolor=color, linestyle="--", linewidth=1.2
            )
        )
        ax.plot(*point, "o", color=color, markersize=8)
        moved = point + eps * direction
        ax.annotate(
            "", moved, point, arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.6}
        )
        ax.plot(*moved, "o", markerfacecolor="white", markeredgecolor=color, markersize=8)
        ax.text(point[0], point[1] + eps + 0.12, label, ha="center", fontsize=11, color=color)
    ax.text(
        2.0,
        -0.5,
        "each row moves by $\\epsilon\\, g_r / \\|g_r\\|$ inside its own ball "
        "$\\|\\Delta_r\\| \\leq \\epsilon$",
        ha="center",
        fontsize=10.5,
    )
    ax.set_title("APR's worst-case move of the embeddings (FGSM, per row)", fontsize=11.5)
    # right: the margin before and after
    bx.set_xlim(0, 10)
    bx.set_ylim(0, 6)
    bx.axis("off")
    bx.bar(
        [2.5, 6.5],
        [3.0, 0.9],
        bottom=1.4,
        width=2.2,
        color=[LIGHT[GREEN], LIGHT[RED]],
        edgecolor=[GREEN, RED],
        linewidth=1.6,
    )
    bx.plot([0.8, 8.2], [1.4, 1.4], color="black", linewidth=1)
    bx.text(2.5, 4.55, "clean margin\n$x_{ui} - x_{uj}$", ha="center", fontsize=10.5)
    bx.text(6.5, 2.45, "margin after\nthe perturbation", ha="center", fontsize=10.5)
    bx.text(
        5,
        5.6,
        "$L_{\\mathrm{APR}} = L_{\\mathrm{BPR}}(\\Theta)"
        " + \\lambda\\, L_{\\mathrm{BPR}}(\\Theta + \\Delta_{\\mathrm{adv}})$",
        ha="center",
        fontsize=12.5,
    )
    bx.text(
        5,
        0.2,
        "$\\Delta_{\\mathrm{adv}}$ is held constant: training pushes the margin up\n"
        "where a small move of the rows would flip the ranking",
        ha="center",
        fontsize=10,
    )
    fig.tight_layout()
    save(fig, "apr_perturbation.png", text_scale=1.3)


def privacy_threat_model():
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.2, 1]})
    ax.set_xlim(0, 12)
    bx.set_xlim(0, 10)
    for a in (ax, bx):
        a.set_ylim(0, 6)
        a.axis("off")
    ax.set_title("Training: the defence (one step of simultaneous descent–ascent)", fontsize=11.5)
    hist = box(ax, 1.25, 3.0, "interactions\n$(u, i)$", GREY, w=2.3, h=1.0, fontsize=10)
    p = box(ax, 4.3, 3.0, "user factors $p_u$", BLUE, w=2.9, h=0.8, fontsize=10)
    bpr = box(
        ax, 8.6, 4.8, "ranking loss\n$L_{\\mathrm{BPR}}(P, Q)$", BLUE, w=3.0, h=1.0, fontsize=10
    )
    grl = box(ax, 6.4, 1.6, "reversal $R_\\lambda$", RED, w=2.4, h=0.8, fontsize=10)
    adv = box(
        ax, 10.2, 1.6, "adversary $f_\\phi$\npredicts gender", ORANGE, w=3.2, h=1.1, fontsize=10
    )
    arrow(ax, (hist[0] + 1.15, hist[1]), (p[0] - 1.45, p[1]))
    arrow(ax, (p[0] + 0.7, p[1] + 0.4), (bpr[0] - 1.5, bpr[1] - 0.2))
    arrow(ax, (p[0] + 0.7, p[1] - 0.4), (grl[0] - 1.2, grl[1] + 0.1))
    arrow(ax, (grl[0] + 1.2, grl[1]), (adv[0] - 1.6, adv[1]))
    ax.text(
        6.0,
        0.3,
        "forward: identity.  backward: gradient $\\times(-\\lambda)$, so $p_u$ "
        "ascends $L_{\\mathrm{adv}}$\nwhile $\\phi$ descends it (unscaled); the book's "
        "confusion variant pushes $f_\\phi(p_u)$ to the base rate",
        ha="center",
        fontsize=9.2,
        color=RED,
    )
    bx.set_title("Threat model: a fresh attacker after training", fontsize=11.5)
    emb = box(bx, 1.9, 4.3, "published user\nfactors $P$", BLUE, w=3.3, h=1.1, fontsize=10)
    lab = box(bx, 1.9, 2.1, "attribute of some\nusers (disclosed)", GREY, w=3.5, h=1.1, fontsize=10)
    clf = box(bx, 6.0, 3.2, "fresh classifier\n(logistic, MLP)", ORANGE, w=3.2, h=1.1, fontsize=10)
    out = box(bx, 8.4, 1.0, "gender of\nthe others?", RED, w=2.6, h=1.1, fontsize=10)
    arrow(bx, (emb[0] + 1.65, emb[1] - 0.2), (clf[0] - 1.6, clf[1] + 0.25))
    arrow(bx, (lab[0] + 1.75, lab[1] + 0.2), (clf[0] - 1.6, clf[1] - 0.25))
    arrow(bx, (clf[0] + 0.6, clf[1] - 0.55), (out[0] - 0.3, out[1] + 0.55))
    bx.text(
        4.3,
        0.05,
        "success = AUC on users it was not\ntrained on (0.5 = guessing)",
        ha="center",
        fontsize=9.5,
    )
    fig.tight_layout()
    save(fig, "privacy_threat_model.png", text_scale=1.2)


def gan_recommenders():
    """IRGAN's discrete samples and policy gradient beside CFGAN's real-valued vectors."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.2))
    for a, title in (
        (ax, "IRGAN: discrete samples, policy gradient"),
        (bx, "CFGAN: real-valued vectors, gradient through D"),
    ):
        a.set_xlim(0, 10)
        a.set_ylim(0, 4.6)
        a.axis("off")
        a.set_title(title, fontsize=11.5)
    u = box(ax, 1.2, 3.3, "user $u$", GREY, w=1.8, h=0.8, fontsize=10)
    g = box(ax, 4.6, 3.3, "$G$: softmax policy\n" r"$p_\theta(i \mid u)$", BLUE, w=2.8, h=1.0)
    d = box(ax, 8.4, 3.3, r"$D$: $\sigma(f_\phi(u, i))$", ORANGE, w=2.6, h=0.9, fontsize=10)
    pos = box(ax, 8.4, 0.9, "observed positives\nof $u$", GREEN, w=2.6, h=1.0, fontsize=10)
    arrow(ax, (u[0] + 0.9, u[1]), (g[0] - 1.4, g[1]))
    arrow(ax, (g[0] + 1.4, g[1] + 0.2), (d[0] - 1.3, d[1] + 0.2), "sampled item ids")
    arrow(ax, (pos[0], pos[1] + 0.5), (d[0], d[1] - 0.45), "real pairs", offset=(0.75, -0.1))
    reward = "reward $r(u, i)$"
    arrow(
        ax, (d[0] - 1.3, d[1] - 0.25), (g[0] + 1.4, g[1] - 0.25), reward, ORANGE, offset=(0, -0.55)
    )
    rule = "REINFORCE:\n" r"$r \cdot \nabla_\theta \log p_\theta(i \mid u)$"
    ax.text(4.6, 1.3, rule, ha="center", fontsize=10, color=BLUE)
    c = box(bx, 1.3, 3.3, "condition $e_u$\n(purchase vector)", GREY, w=2.4, h=1.0, fontsize=10)
    g = box(bx, 4.7, 3.3, "$G$: MLP\n" r"$\hat r_u = G(e_u)$", BLUE, w=2.4, h=1.0, fontsize=10)
    d = box(bx, 8.4, 3.3, "$D([e_u; x])$", ORANGE, w=2.4, h=0.9, fontsize=10)
    m = box(bx, 4.7, 0.9, "mask $m_u$ (PM),\nzeros $Z_u$ (ZR)", RED, w=2.6, h=1.0, fontsize=10)
    r = box(bx, 8.4, 0.9, "real: $x = e_u$", GREEN, w=2.4, h=0.9, fontsize=10)
    arrow(bx, (c[0] + 1.2, c[1]), (g[0] - 1.2, g[1]))
    arrow(bx, (g[0] + 1.2, g[1] + 0.2), (d[0] - 1.2, d[1] + 0.2), r"$x = \hat r_u \odot m_u$")
    arrow(bx, (m[0], m[1] + 0.5), (g[0], g[1] - 0.5))
    arrow(bx, (r[0], r[1] + 0.45), (d[0], d[1] - 0.45))
    through = r"$\partial \log D / \partial x$"
    arrow(
        bx, (d[0] - 1.2, d[1] - 0.25), (g[0] + 1.2, g[1] - 0.25), through, ORANGE, offset=(0, -0.55)
    )
    fig.tight_layout()
    save(fig, "gan_recommenders.png", text_scale=1.1)


def sasrec_causal():
    """SASRec: each position reads the items up to it and predicts the next one."""
    fig, ax = canvas(11, 4.2, (-0.4, 11.4), (-0.4, 4.3))
    for t in range(5):
        x = 1.7 * t + 0.6
        box(ax, x, 0.3, f"$s_{t + 1}$", GREY, w=1.2, h=0.55, fontsize=10)
        box(ax, x, 1.35, f"$E_{{s_{t + 1}}} + P_{t + 1}$", BLUE, w=1.4, h=0.55, fontsize=9)
        box(ax, x, 2.75, f"$h_{t + 1}$", GREEN, w=1.2, h=0.55, fontsize=10)
        box(ax, x, 3.75, rf"$\to s_{t + 2}$", RED, w=1.2, h=0.55, fontsize=10)
        arrow(ax, (x, 0.58), (x, 1.07))
        arrow(ax, (x, 3.03), (x, 3.47))
        for u in range(t + 1):  # causal attention: position t reads positions <= t
            arrow(ax, (1.7 * u + 0.6, 1.63), (x, 2.47), color=BLUE, alpha=0.35)
    ax.text(8.9, 2.05, "causal self-attention\n" r"blocks ($\times n_{\mathrm{blocks}}$)")
    ax.text(8.9, 3.6, "scores $h_t^\\top E_i$\n(the same table $E$)")
    ax.text(8.9, 0.2, "history, oldest first")
    save(fig, "sasrec_causal.png", text_scale=1.1)


def coldstart_game():
    fig, ax = canvas(11, 4.6, (0, 13), (-0.9, 4.6))
    content = box(ax, 1.5, 3.4, "content $c_i$\n(genres, year)", GREY, w=2.5, h=1.0, fontsize=10)
    g = box(ax, 5.0, 3.4, "generator $G$", BLUE, w=2.4, h=0.8, fontsize=10)
    real = box(ax, 1.5, 1.6, "warm item $i$\n(BPR-MF $e_i$)", GREY, w=2.5, h=1.0, fontsize=10)
    other = box(ax, 5.0, 0.3, "random item $j$\n(BPR-MF $e_j$)", GREY, w=2.5, h=1.0, fontsize=10)
    r = box(
        ax, 9.0, 1.9, "recommender $R$\n$g(o_u)^\\top f(\\cdot)$", ORANGE, w=2.8, h=1.1, fontsize=10
    )
    arrow(ax, (content[0] + 1.25, content[1]), (g[0] - 1.2, g[1]))
    arrow(
        ax,
        (g[0] + 1.2, g[1]),
        (r[0] - 1.0, r[1] + 0.55),
        "$G(c_i)$: generated",
        BLUE,
        offset=(1.0, 0.2),
    )
    arrow(
        ax, (real[0] + 1.25, real[1]), (r[0] - 1.4, r[1]), "$e_i$: real", "black", offset=(0, 0.05)
    )
    arrow(ax, (other[0] + 1.25, other[1]), (r[0] - 1.0, r[1] - 0.55), "$e_j$", GREY)
    ax.text(11.0, 3.4, "R: rank the real item above\nthe random and the generated",
            fontsize=10, color=ORANGE, ha="center")  # fmt: skip
    ax.text(11.0, 0.2, "G: make R score the generated\nas high as the real",
            fontsize=10, color=BLUE, ha="center")  # fmt: skip
    ax.text(0.1, -0.75, "with the pull weight β = 1, G ignores R: the regression generator",
            fontsize=10, color=GREY)  # fmt: skip
    save(fig, "coldstart_game.png", text_scale=1.15)


def shilling_threat_model():
    fig, ax = canvas(11, 4.4, (0, 13), (-0.4, 4.6))
    real = box(ax, 1.6, 3.6, "real users'\ninteractions", BLUE, w=2.6, h=1.0, fontsize=10)
    attacker = box(
        ax, 1.6, 0.8, "attacker: recipe,\nsurrogate or GAN", RED, w=2.6, h=1.0, fontsize=10
    )
    fakes = box(ax, 5.0, 0.8, "fake profiles\n(target + fillers)", RED, w=2.6, h=1.0, fontsize=10)
    data = box(ax, 5.0, 3.6, "training data\n(real + fake)", GREY, w=2.6, h=1.0, fontsize=10)
    screen = box(ax, 8.2, 3.6, "screen\n(optional)", GREEN, w=2.0, h=1.0, fontsize=10)
    model = box(ax, 11.4, 3.6, "recommender\n(retrained)", BLUE, w=2.4, h=1.0, fontsize=10)
    lists = box(ax, 11.4, 0.8, "real users'\ntop-10 lists", ORANGE, w=2.4, h=1.0, fontsize=10)
    arrow(ax, (real[0], real[1] - 0.5), (attacker[0], attacker[1] + 0.5), "sees train", GREY,
          offset=(0.75, -0.1))  # fmt: skip
    arrow(ax, (attacker[0] + 1.3, attacker[1]), (fakes[0] - 1.3, fakes[1]))
    arrow(ax, (fakes[0], fakes[1] + 0.5), (data[0], data[1] - 0.5))
    arrow(ax, (real[0] + 1.3, real[1]), (data[0] - 1.3, data[1]))
    arrow(ax, (data[0] + 1.3, data[1]), (screen[0] - 1.0, screen[1]))
    arrow(ax, (screen[0] + 1.0, screen[1]), (model[0] - 1.2, model[1]))
    arrow(ax, (model[0], model[1] - 0.5), (lists[0], lists[1] + 0.5), "is the target in?",
          ORANGE, offset=(-1.1, -0.1))  # fmt: skip
    save(fig, "shilling_threat_model.png", text_scale=1.15)


def item_text_attack():
    fig, ax = canvas(12, 4.6, (0, 15.2), (0.2, 5.8))
    seller = box(ax, 1.3, 3.9, "seller\n(attacker)", RED, w=2.2, h=1.0, fontsize=10)
    text = box(ax, 1.3, 1.7, 'item text\n"Title. Year.\nGenres."', GREY, w=2.3, h=1.3)
    enc = box(
        ax, 4.75, 1.7, "tokenizer + encoder\nall-MiniLM-L6-v2\n(public, frozen)", BLUE,
        w=2.9, h=1.3, fontsize=10,
    )  # fmt: skip
    emb = box(ax, 7.85, 1.7, "text embedding\n$t_i$, $|t_i| = 1$", BLUE, w=2.4, h=1.0, fontsize=10)
    rec = box(
        ax, 11.0, 1.7, "recommender\n$p_u \\cdot (t_i W + e_i)$\n$+\\, t_i \\cdot w$", GREEN,
        w=2.8, h=1.3, fontsize=10,
    )  # fmt: skip
    users = box(ax, 14.05, 1.7, "users'\ntop-10\nlists", ORANGE, w=1.9, h=1.3, fontsize=10)
    arrow(ax, (seller[0], seller[1] - 0.5), (text[0], text[1] + 0.65), "", RED)
    ax.text(1.55, 2.95, "edits at most $k$\nword pieces", fontsize=9.5, color=RED, va="center")
    arrow(ax, (text[0] + 1.15, text[1]), (enc[0] - 1.45, enc[1]))
    arrow(ax, (enc[0] + 1.45, enc[1]), (emb[0] - 1.2, emb[1]))
    arrow(ax, (emb[0] + 1.2, emb[1]), (rec[0] - 1.4, rec[1]))
    arrow(ax, (rec[0] + 1.4, rec[1]), (users[0] - 0.95, users[1]))
    arrow(
        ax, (rec[0], rec[1] + 0.65), (seller[0] + 1.1, seller[1] + 0.1), "", RED, rad=0.12,
        linestyle="--",
    )  # fmt: skip
    ax.text(
        8.9, 4.15, "white box: the gradient of the target's mean score\nover users w.r.t. each"
        " token's vector (HotFlip)", ha="center", va="bottom", fontsize=9.5, color=RED,
    )  # fmt: skip
    ax.text(
        7.85, 0.55, "defence (APR in the text space): train against the worst shift"
        " $|\\Delta| \\leq \\epsilon$ of every $t_i$", ha="center", fontsize=9.5, color=GREEN,
    )  # fmt: skip
    ax.text(
        0.1, 5.45, "The attack surface of a recommender that reads item text", fontsize=12,
        fontweight="bold",
    )  # fmt: skip
    save(fig, "item_text_attack.png", text_scale=1.15)


if __name__ == "__main__":
    gan_training_loop()
    adversarial_families()
    apr_perturbation()
    privacy_threat_model()
    gan_recommenders()
    sasrec_causal()
    coldstart_game()
    shilling_threat_model()
    item_text_attack()
