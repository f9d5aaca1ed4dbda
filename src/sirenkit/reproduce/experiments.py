"""The paper's experiments as comparisons under the protocol of `protocol.py`: methods, tuning and evaluation
signals, the three scales and the paper's numbers.

Scales: `smoke` (seconds; what the tests run), `cpu` (each within about 30 minutes on 2 CPU cores, evaluation
only: the learning rates come from `--tune` runs committed in tuned.json), `paper` (the paper's setting: sizes,
steps, full batches; a GPU). The evaluation signals of an experiment never tune anything: learning rates are
chosen on its tuning signals. docs/reproduction.md names both for every experiment.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .protocol import Experiment, Method, Scale, Signal

DATA_ENV = "SIRENKIT_DATA"
"""Environment variable naming the folder with the paper's data files (bach.wav, bikes.mp4, bunny_100k.xyz,
bunny.ply, fwi_cylinder_5.mat), when `--data` is not given."""


@dataclass(frozen=True)
class DataFile:
    """A signal option naming a file of the data folder (`--data`), resolved when the experiment runs."""

    name: str

    def resolve(self, folder: str | None) -> str:
        root = folder or os.environ.get(DATA_ENV)
        if not root:
            raise UserError(f"this experiment reads {self.name}: give --data DIR, the folder with the paper's data "
                            f"files, or set {DATA_ENV} (docs/reproduction.md)")
        path = Path(root) / self.name
        if not path.is_file():
            raise UserError(f"{path} does not exist: --data must name the folder with {self.name}")
        return str(path)


def _bundled(name: str) -> str:
    """Path of a scikit-image bundled photograph (inside the installed package; no download)."""
    from ..tasks.images import bundled_image_files

    return str(dict(bundled_image_files())[name])


def _grey(name: str, note: str = "") -> Signal:
    return Signal(name, {"path": _bundled(name), "grey": True}, note)


FIGURE1 = (
    Method("sine", {"activation": "sine"}),
    Method("relu", {"activation": "relu"}),
    Method("tanh", {"activation": "tanh"}),
    Method("relu-pe", {"activation": "relu-pe"}),
    Method("rbf-relu", {"activation": "rbf-relu"}),
)
"""The paper's Figure 1 (same depth; widths matched to the SIREN's parameter count)."""

IMAGE_GRID = (1e-4, 3e-4, 1e-3, 3e-3)


def _image_experiments() -> list[Experiment]:
    tuning = (_grey("astronaut"), _grey("coffee"))
    evaluation = (_grey("camera", "the paper's cameraman"), _grey("chelsea"))
    scales = {
        "smoke": Scale({"size": 32, "batch_pixels": 0, "steps": 80, "hidden_features": 48, "hidden_layers": 2,
                        "rbf_centers": 32, "schedule": "cosine", "eval_every": 80}, (3e-4, 1e-3, 3e-3, 1e-2),
                       seeds=2, tuning_signals=1),
        "cpu": Scale({"size": 128, "batch_pixels": 4096, "steps": 500, "schedule": "cosine", "eval_every": 250},
                     IMAGE_GRID, note="128², 4,096 random pixels a step, 500 steps, cosine decay"),
        "paper": Scale({"size": 512, "batch_pixels": 0, "steps": 10000, "schedule": "constant", "eval_every": 1000},
                       (3e-5, 1e-4, 3e-4, 1e-3), recipe="paper", note="512², every pixel, 10k steps, constant lr"),
    }
    image = Experiment(
        name="image", title="Image fitting (Figure 1)", task="image", methods=FIGURE1, tuning=tuning,
        evaluation=evaluation, scales=scales, metrics=("psnr", "ssim"), higher_is_better=True, paper_lr=1e-4,
        paper={"sine": {"psnr": 50.0}, "relu": {"psnr": 24.0}, "tanh": {"psnr": 24.0}, "relu-pe": {"psnr": 40.0},
               "rbf-relu": {"psnr": 28.0}},
        paper_setting="cameraman 512², every pixel, Adam lr 1e-4, 10–15k steps; read off the project-page figure",
    )
    later = (
        Method("sine", {"activation": "sine"}),
        Method("fourier", {"activation": "fourier"}),
        Method("finer", {"activation": "finer"}),
        Method("gauss", {"activation": "gauss"}),
        Method("wire", {"activation": "wire"}),
        Method("grid", {"activation": "grid"}, lr_grid=(1e-2, 3e-2, 1e-1, 3e-1)),
    )
    representations = Experiment(
        name="representations", title="Image fitting: later representations at SIREN's parameter count",
        task="image", methods=later, tuning=tuning, evaluation=evaluation,
        scales={**scales, "smoke": Scale({**scales["smoke"].options, "ff_features": 16}, scales["smoke"].lr_grid,
                                         seeds=2, tuning_signals=1)},
        metrics=("psnr", "ssim"), higher_is_better=True, paper_lr=None,
        paper_setting="not in the SIREN paper (Fourier features 2020, FINER 2024, Gaussian 2022, WIRE 2023); "
                      "no paper protocol",
    )
    priors = (
        Method("none", {"prior": "none"}, match_parameters=False),
        Method("tv", {"prior": "tv"}, match_parameters=False),
        Method("hessian", {"prior": "hessian"}, match_parameters=False),
    )
    inpainting = Experiment(
        name="inpainting", title="Sparse inpainting with priors (10 % of the pixels)", task="image",
        methods=priors, tuning=tuning, evaluation=evaluation,
        scales={
            "smoke": Scale({"size": 32, "batch_pixels": 0, "steps": 100, "hidden_features": 32,
                            "hidden_layers": 2, "keep_fraction": 0.1, "prior_points": 256, "schedule": "cosine",
                            "eval_every": 100}, (3e-4, 1e-3, 3e-3, 1e-2), seeds=2, tuning_signals=1),
            # a grid below the image fits': every prior's best rate was 1e-4, the lowest of IMAGE_GRID, in the
            # first tuning run (benchmarks/reproduce/inpainting-cpu-tuning-first-grid.md)
            "cpu": Scale({"size": 64, "batch_pixels": 0, "steps": 300, "hidden_features": 128, "keep_fraction": 0.1,
                          "prior_points": 1024, "schedule": "cosine", "eval_every": 300}, (1e-5, 3e-5, 1e-4, 3e-4),
                         note="64², 10 % of the pixels kept, 128-wide SIREN, 300 steps"),
            "paper": Scale({"size": 256, "batch_pixels": 0, "steps": 10000, "keep_fraction": 0.1,
                            "schedule": "constant", "eval_every": 1000}, (3e-5, 1e-4, 3e-4, 1e-3), recipe="paper"),
        },
        metrics=("psnr",), higher_is_better=True, paper_lr=1e-4,
        paper_setting="qualitative in the paper (no number); PSNR here is on the 90 % of pixels not fitted",
    )
    return [image, representations, inpainting]


def scaled_omega(side: int) -> float:
    """First-layer ω0 giving a side of `side` pixels the frequencies per pixel that ω0 = 30 gives the paper's 256²
    (30·(side − 1)/255): ω0 is fixed in coordinates, so at 32² the paper's 30 is 8× faster per pixel, and the
    derivative-supervised fits then match their target between too few samples (docs/poisson.md)."""
    return round(30.0 * (side - 1) / 255, 3)


def _poisson() -> Experiment:
    methods = tuple(
        Method(f"{target}/{activation}", {"activation": activation}, task=f"poisson-{target}")
        for target in ("gradient", "laplacian") for activation in ("sine", "tanh", "relu-pe")
    )
    return Experiment(
        name="poisson", title="Poisson image reconstruction from gradients and from the Laplacian",
        task="poisson-gradient", methods=methods, tuning=(_grey("astronaut"), _grey("coffee")),
        evaluation=(_grey("camera", "the paper's cameraman"), _grey("chelsea")),
        scales={
            "smoke": Scale({"size": 32, "batch_pixels": 0, "steps": 150, "hidden_features": 48, "hidden_layers": 2,
                            "first_omega_0": scaled_omega(32), "derivatives": "autograd", "schedule": "cosine",
                            "eval_every": 150}, (3e-4, 1e-3, 3e-3, 1e-2), seeds=2, tuning_signals=1),
            "cpu": Scale({"size": 64, "batch_pixels": 0, "steps": 500, "hidden_features": 128,
                          "first_omega_0": scaled_omega(64), "derivatives": "autograd", "schedule": "cosine",
                          "eval_every": 250}, (1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
                         note=f"64², every pixel, 128-wide networks, first-layer ω0 {scaled_omega(64)} (the paper's "
                              "30 at 256², per pixel), 500 steps, cosine decay"),
            "paper": Scale({"size": 256, "batch_pixels": 0, "steps": 10000, "schedule": "constant",
                            "eval_every": 1000}, (3e-5, 1e-4, 3e-4, 1e-3), recipe="paper"),
        },
        metrics=("psnr", "psnr_derivative", "psnr_null"), higher_is_better=True, paper_lr=1e-4,
        paper={"gradient/sine": {"psnr": 32.9}, "gradient/tanh": {"psnr": 25.8}, "gradient/relu-pe": {"psnr": 26.4}},
        paper_setting="256², every pixel, lr 1e-4, 10k steps; Laplacian: qualitative (SIREN recovers the image up to "
                      "a harmonic term, the others fail). `psnr`: the image after removing what the target cannot "
                      "fix (a constant; harmonic polynomials to degree 16); `psnr_derivative`: the fitted gradient or "
                      "Laplacian; `psnr_null`: what a blank image scores",
    )


def _audio() -> Experiment:
    bach = DataFile("bach.wav")
    return Experiment(
        name="audio", title="Audio fitting (Bach cello)", task="audio",
        methods=(Method("sine", {"activation": "sine"}), Method("relu", {"activation": "relu"}),
                 Method("relu-pe", {"activation": "relu-pe"})),
        tuning=(Signal("chord+sweep", {"path": None}, "sirenkit's generated 3 s test signal"),),
        evaluation=(Signal("bach from 0 s", {"path": bach, "start": 0.0}, "the paper's clip"),
                    Signal("bach from 4 s", {"path": bach, "start": 4.0})),
        scales={
            "smoke": Scale({"duration": 0.05, "batch_samples": 0, "sampling": "uniform", "steps": 100,
                            "hidden_features": 32, "hidden_layers": 2, "first_omega_0": 3000.0,
                            "schedule": "cosine", "eval_every": 100}, (3e-5, 1e-4, 3e-4, 1e-3), seeds=2),
            "cpu": Scale({"duration": 2.0, "batch_samples": 4096, "sampling": "uniform", "steps": 1000,
                          "hidden_features": 128,
                          "first_omega_0": 3000.0, "schedule": "cosine", "eval_every": 500},
                         (3e-5, 1e-4, 3e-4, 1e-3), note="2 s clips, 4,096 random samples a step, 128 wide, 1,000 "
                                                        "steps"),
            "paper": Scale({"batch_samples": 0, "sampling": "uniform", "steps": 9000, "first_omega_0": 3000.0,
                            "schedule": "constant", "eval_every": 1000}, (1e-5, 5e-5, 1e-4, 3e-4), recipe="paper",
                           note="every sample each step, ω0 3000 in the first layer, 9k steps"),
        },
        metrics=("mse",), higher_is_better=False, paper_lr=5e-5,
        paper={"sine": {"mse": 1.1e-5}, "relu": {"mse": 2.5e-2}},
        paper_setting="the whole 7 s clip, every sample each step, lr 5e-5, ~9k steps; the paper's counting-speech "
                      "clip is not available offline",
    )


def _video() -> Experiment:
    bikes = DataFile("bikes.mp4")
    return Experiment(
        name="video", title="Video fitting (bikes)", task="video",
        methods=(Method("sine", {"activation": "sine"}), Method("relu", {"activation": "relu"}),
                 Method("relu-pe", {"activation": "relu-pe"})),
        tuning=(Signal("bikes from frame 0", {"path": bikes, "start_frame": 0}),),
        evaluation=(Signal("bikes from frame 100", {"path": bikes, "start_frame": 100}),
                    Signal("bikes from frame 200", {"path": bikes, "start_frame": 200})),
        scales={
            "smoke": Scale({"size": 24, "frames": 4, "sample_frac": 0.2, "steps": 60, "hidden_features": 32,
                            "hidden_layers": 2, "eval_frames": 0, "schedule": "cosine", "eval_every": 60},
                           (3e-4, 1e-3, 3e-3, 1e-2), seeds=2),
            "cpu": Scale({"size": 96, "frames": 30, "sample_frac": 0.0038, "steps": 1000, "hidden_features": 256,
                          "eval_frames": 0,
                          "schedule": "cosine", "eval_every": 500}, (*IMAGE_GRID, 1e-2),
                         note="30 frames at 96 px, 0.38 % of the pixels a step, 256 wide, 1,000 steps"),
            "paper": Scale({"size": 0, "frames": 50, "sample_frac": 0.0038, "steps": 100000, "hidden_features": 1024,
                            "schedule": "constant", "eval_every": 10000}, (3e-5, 1e-4, 3e-4, 1e-3),
                           recipe="paper"),
        },
        metrics=("psnr_mean",), higher_is_better=True, paper_lr=1e-4,
        paper={"sine": {"psnr_mean": 29.9}, "relu": {"psnr_mean": 25.1}},
        paper_setting="the cat video (300 frames of 512², not available), 1024-wide networks, 100k steps",
    )


def _sdf() -> Experiment:
    return Experiment(
        name="sdf", title="Signed distance function from an oriented point cloud", task="sdf",
        methods=(Method("sine", {"activation": "sine"}), Method("relu-pe", {"activation": "relu-pe"})),
        tuning=(Signal("torus", {"path": None, "shape": "torus"}),),
        evaluation=(Signal("bunny", {"path": DataFile("bunny_100k.xyz"), "reference": DataFile("bunny.ply")}),
                    Signal("sphere", {"path": None, "shape": "sphere"})),
        scales={
            "smoke": Scale({"surface_samples": 2000, "batch_points": 256, "steps": 40, "hidden_features": 32,
                            "hidden_layers": 2, "mesh_resolution": 32, "eval_samples": 2000, "schedule": "cosine",
                            "eval_every": 40}, (3e-5, 1e-4, 3e-4, 1e-3), seeds=2),
            "cpu": Scale({"batch_points": 2048, "steps": 1000, "hidden_features": 128, "mesh_resolution": 128,
                          "eval_samples": 100000, "schedule": "cosine", "eval_every": 1000},
                         (3e-5, 1e-4, 3e-4, 1e-3), note="2,048 + 2,048 points a step, 128 wide, 1,000 steps, "
                                                        "meshes at 128³"),
            "paper": Scale({"batch_points": 250000, "steps": 50000, "mesh_resolution": 512, "schedule": "constant",
                            "eval_every": 10000}, (3e-5, 1e-4, 3e-4, 1e-3), recipe="paper"),
        },
        metrics=("surface_distance", "chamfer_l1", "fscore"), higher_is_better=False, paper_lr=1e-4,
        paper_setting="qualitative in the paper (meshes); ReLU P.E. loses the fine detail",
    )


def _helmholtz() -> Experiment:
    return Experiment(
        name="helmholtz", title="Helmholtz equation, point source in a uniform medium", task="helmholtz",
        methods=tuple(Method(a, {"activation": a}) for a in ("sine", "tanh", "relu", "relu-pe")),
        tuning=(Signal("source at (0.3, −0.3)", {"source": "0.3,-0.3"}),),
        evaluation=(Signal("source at (0, 0)", {"source": "0,0"}, "the paper's"),
                    Signal("source at (−0.25, 0.2)", {"source": "-0.25,0.2"})),
        scales={
            "smoke": Scale({"batch_points": 256, "source_points": 32, "steps": 60, "hidden_features": 32,
                            "hidden_layers": 2, "reference_nodes": 161, "schedule": "cosine", "eval_every": 60},
                           (3e-5, 1e-4, 3e-4, 1e-3), seeds=2),
            # k 5 with a wide source: the setting where a small network converges on a CPU (the cpu recipe's
            # k 10, σ 0.03 left SIREN at relative MSE 0.55–0.70 after 1,500 steps: nothing converged, so the
            # comparison said nothing); PML a0 20 keeps the paper's attenuation k·a0 = 100
            "cpu": Scale({"k": 5.0, "pml_a0": 20.0, "source_sigma": 0.08, "source_radius": 6.0,
                          "batch_points": 512, "source_points": 128, "steps": 1000, "hidden_features": 64,
                          "first_omega_0": 5.0, "derivatives": "autograd", "schedule": "cosine", "eval_every": 500},
                         (3e-5, 1e-4, 3e-4, 1e-3), note="k 5, source σ 0.08, PML a0 20, 512 + 128 points a step, "
                                                        "64 wide, first ω0 5, 1,000 steps"),
            "paper": Scale({"steps": 50000, "schedule": "constant", "eval_every": 5000}, (1e-5, 2e-5, 1e-4, 3e-4),
                           recipe="paper"),
        },
        metrics=("relative_mse", "mse_vs_reference"), higher_is_better=False, paper_lr=2e-5,
        paper={"sine": {"mse_vs_reference": 7.9e-6}, "tanh": {"mse_vs_reference": 2.6e-5}},
        paper_setting="k 20, source σ 1e-4, 53k points a step, 50k steps at lr 2e-5; ReLU fails (no number)",
    )


def _wave() -> Experiment:
    return Experiment(
        name="wave", title="Wave equation from a Gaussian initial displacement", task="wave",
        methods=(Method("sine", {"activation": "sine"}), Method("tanh", {"activation": "tanh"})),
        tuning=(Signal("speed 0.8, σ 0.12", {"speed": 0.8, "source_sigma": 0.12}),),
        evaluation=(Signal("speed 1, σ 0.1", {"speed": 1.0, "source_sigma": 0.1}),
                    Signal("speed 1.2, σ 0.08", {"speed": 1.2, "source_sigma": 0.08})),
        scales={
            "smoke": Scale({"batch_points": 256, "initial_points": 128, "source_points": 64, "steps": 60,
                            "window_steps": 30, "hidden_features": 32, "hidden_layers": 2, "eval_size": 16,
                            "eval_times": 3, "derivatives": "autograd", "schedule": "cosine", "eval_every": 60},
                           (3e-5, 1e-4, 3e-4, 1e-3), seeds=2),
            # analytic derivatives (forward mode, equal to autograd's to float precision: tests/diff) for every
            # method: autograd's double backward took about 3 minutes a fit on one core
            # the first grid (3e-5 … 1e-3) put both methods at its top edge (benchmarks/reproduce/
            # wave-cpu-tuning-first-grid.md): the grid moved one step up
            "cpu": Scale({"batch_points": 2048, "steps": 1200, "hidden_features": 64, "window_steps": 500,
                          "derivatives": "auto", "schedule": "cosine", "eval_every": 600},
                         (1e-4, 3e-4, 1e-3, 3e-3), note="2,048 points a step, 64 wide, 1,200 steps"),
            "paper": Scale({"steps": 100000, "schedule": "constant", "eval_every": 10000},
                           (1e-5, 2e-5, 1e-4, 3e-4), recipe="paper"),
        },
        metrics=("relative_mse", "mse_vs_reference"), higher_is_better=False, paper_lr=2e-5,
        paper_setting="qualitative in the paper: SIREN follows the wave, Tanh does not",
    )


def _fwi() -> Experiment:
    return Experiment(
        name="fwi", title="Inverse Helmholtz (full-waveform inversion) of a cylinder", task="fwi",
        methods=(Method("sine", {"activation": "sine"}), Method("tanh", {"activation": "tanh"})),
        tuning=(Signal("simulated cylinder (0.2, −0.1), r 0.12, v 1.5", {"path": None,
                                                                        "cylinder": "0.2,-0.1,0.12,1.5"}),),
        evaluation=(Signal("fwi_cylinder_5.mat", {"path": DataFile("fwi_cylinder_5.mat"), "cylinder": "0,0,0.1,2"},
                           "the paper's measurements"),
                    Signal("simulated cylinder (−0.15, 0.15), r 0.1, v 2.5",
                           {"path": None, "cylinder": "-0.15,0.15,0.1,2.5"})),
        scales={
            "smoke": Scale({"batch_points": 256, "source_points": 16, "steps": 20, "pretrain_steps": 5,
                            "hidden_features": 32, "hidden_layers": 2, "reference_nodes": 101, "eval_nodes": 21,
                            "schedule": "cosine", "eval_every": 20}, (1e-4, 3e-4, 1e-3, 3e-3), seeds=1),
            # analytic derivatives for both methods: autograd's double backward of the 11 outputs took 2.7 s a step
            "cpu": Scale({"batch_points": 1024, "steps": 1500, "pretrain_steps": 300, "hidden_features": 64,
                          "derivatives": "auto", "schedule": "cosine", "eval_every": 500},
                         (5e-5, 1e-4, 2e-4, 5e-4), note="1,024 points a step, 64 wide, 300 pretraining steps, "
                                                        "1,500 steps in all"),
            "paper": Scale({"steps": 80000, "schedule": "constant", "eval_every": 10000}, (1e-5, 2e-5, 1e-4, 3e-4),
                           recipe="paper"),
        },
        metrics=("velocity_error", "wavefield_mse"), higher_is_better=False, paper_lr=2e-5,
        paper={"sine": {"wavefield_mse": 8.6e-3}},
        paper_setting="53k points a step, 80k steps at lr 2e-5; classical FWI reached wavefield MSE 1.7e-2",
    )


def _meta() -> Experiment:
    encoders = (Method("set", {"encoder": "set"}, match_parameters=False),
                Method("cnn", {"encoder": "cnn"}, match_parameters=False),
                Method("cnp", {"encoder": "cnp"}, match_parameters=False))
    return Experiment(
        name="meta", title="A space of SIRENs: image completion from context pixels", task="meta",
        methods=encoders,
        tuning=(Signal("validation crops", {"eval_split": "validation"}, "held out of the training images"),),
        evaluation=(Signal("astronaut test crops", {"eval_split": "test", "eval_source": "astronaut"}),
                    Signal("coffee test crops", {"eval_split": "test", "eval_source": "coffee"})),
        scales={
            "smoke": Scale({"size": 32, "batch_size": 8, "latent_features": 16, "encoder_hidden_features": 16,
                            "hyper_hidden_features": 16, "cnn_width": 8, "cnn_blocks": 1, "hidden_features": 16,
                            "hidden_layers": 1, "target_pixels": 64, "held_out_images": 64, "steps": 40,
                            "schedule": "cosine", "eval_every": 40}, (3e-4, 1e-3, 3e-3, 1e-2), seeds=2),
            # 600 steps: at 1,500 a round of the three encoders took about 7 minutes of one core (the CNN 4× the
            # set encoder's step), 12 rounds for the evaluation
            # the grid of the first tuning (2e-4 … 2e-3) put cnn at its bottom and cnp at its top: widened both ways
            "cpu": Scale({"steps": 600, "eval_every": 600, "held_out_images": 500},
                         (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3),
                         note="the cpu recipe (64-wide SIREN, 32² crops, batch 32), 600 steps, 500 held-out crops "
                              "per signal (evenly spaced)"),
            "paper": Scale({"eval_every": 50000}, (1e-5, 5e-5, 1e-4, 3e-4), recipe="paper"),
        },
        metrics=("mse_100", "mse_10", "mse_1000"), higher_is_better=False, paper_lr=5e-5,
        paper={"set": {"mse_10": 0.035, "mse_100": 0.013, "mse_1000": 0.009},
               "cnn": {"mse_10": 0.033, "mse_100": 0.009, "mse_1000": 0.008},
               "cnp": {"mse_10": 0.039, "mse_100": 0.016, "mse_1000": 0.009}},
        paper_setting="CelebA 32² (not available offline; here 32² crops of scikit-image photographs), 256-wide "
                      "networks, batch 100, far longer training",
        figure="lines",
    )


@functools.cache
def experiments() -> dict[str, Experiment]:
    """Every experiment by name, in the order of the paper."""
    found = [*_image_experiments(), _audio(), _video(), _poisson(), _sdf(), _helmholtz(), _wave(), _fwi(), _meta()]
    return {e.name: e for e in found}


def get_experiment(name: str) -> Experiment:
    known = experiments()
    if name not in known:
        raise UserError(f"unknown experiment {name!r}; known: {', '.join(known)}")
    return known[name]
