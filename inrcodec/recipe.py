"""How a model is meta-learned, as data: the one recipe ``meta_train``, ``inrcodec train`` and the
training pipelines share.

The defaults are the bundled ``default-2d`` model's run (its card records them, and
``tests/test_train.py`` holds the two together). A newly trained model's card records its
recipe whole, so a run can be repeated from the card alone.
"""

import argparse
import dataclasses
import math
from dataclasses import dataclass, field


def _option(default, help: str, flag: str | None = None, **argparse_keywords):
    """A recipe field with its command-line option: ``--name`` unless ``flag`` says otherwise."""
    return field(default=default, metadata={"help": help, "flag": flag, **argparse_keywords})


@dataclass(frozen=True)
class Recipe:
    """Architecture, inner and outer loop, training data and run length of a meta-learning run.

    The run stops after ``max_steps`` outer steps or ``minutes`` of training, whichever comes
    first (at least one must be set); the learning rate decays along a cosine over whichever of
    the two is further along.
    """
    width: int = _option(64, "width of the sine layers", type=int)
    depth: int = _option(4, "sine layers", type=int)
    latent_dim: int = _option(64, "latent dimensions per patch", type=int)
    w0: float = _option(30.0, "frequency of the sine layers", type=float)
    inner_steps: int = _option(3, "inner-loop steps per patch (meta-learned step sizes)", type=int)
    step_size_init: float = _option(1e-2, "start of the meta-learned inner step sizes", type=float)
    first_order: bool = _option(False, "first-order MAML (faster; on A1B far worse)",
                                action="store_true")
    batch_size: int = _option(16, "patches per outer step", type=int)
    lr: float = _option(1e-3, "Adam's learning rate at the start of the cosine decay", type=float)
    mix: float = _option(3.0, "train on affine mixes x_i + a (x_j - x_k) of the samples, |a| <= "
                              "MIX (0: the samples themselves); 3 made unseen A1B years 2 dB "
                              "better (docs/mix.md)", type=float)
    latent_basis: bool = _option(True, "quantize the latents themselves, not their coefficients "
                                       "in a fitted basis", flag="--no-latent-basis",
                                 action="store_false")
    quantization_bits: int | None = _option(None, "quantization-aware training at this latent "
                                                  "bit depth", type=int)
    gate_penalty: tuple[float, float] | None = _option(
        None, "meta-learn L0 gates on the latents (size-budget mode), penalties drawn "
              "log-uniformly from LOW-HIGH", type=float, nargs=2, metavar=("LOW", "HIGH"))
    seed: int = _option(0, "seed of the weights and of the batches drawn", type=int)
    minutes: float | None = _option(59.0, "time budget of the outer loop", type=float)
    max_steps: int | None = _option(None, "outer steps (default: until the time budget)",
                                    flag="--steps", type=int, metavar="STEPS")

    def __post_init__(self):
        if self.max_steps is None and self.minutes is None:
            raise ValueError("give max_steps or minutes")
        penalty = self.gate_penalty
        if penalty is not None:
            penalty = tuple(penalty)  # JSON and argparse hand back lists
            object.__setattr__(self, "gate_penalty", penalty)
            if not (len(penalty) == 2 and 0 < penalty[0] <= penalty[1] < math.inf):
                raise ValueError(f"gate_penalty must be (low, high) with 0 < low <= high, not "
                                 f"{penalty!r}")
        if not (isinstance(self.mix, int | float) and 0 <= self.mix < math.inf):
            raise ValueError(f"mix must be a spread of 0 (no mixes) or more, not {self.mix!r}")

    @property
    def time_budget(self) -> float | None:
        """Seconds, or None."""
        return None if self.minutes is None else 60 * self.minutes

    def describe(self) -> str:
        """The recipe in a few words, for a report's caption."""
        loop = "first-order MAML" if self.first_order else "full MAML"
        data = f"affine mixes of spread {self.mix:g}" if self.mix else "the samples themselves"
        return (f"lr {self.lr:g}, {data}, batches of {self.batch_size}, {loop}, "
                f"{self.inner_steps} inner steps")

    def as_card(self) -> dict:
        """The recipe as a model card's JSON records it."""
        card = dataclasses.asdict(self)
        card["gate_penalty"] = list(self.gate_penalty) if self.gate_penalty else None
        return card


BUNDLED = Recipe()  # the bundled default-2d model's run


def add_recipe_arguments(parser: argparse.ArgumentParser, base: Recipe = BUNDLED) -> None:
    """An option per recipe field, its default taken from ``base``."""
    for f in dataclasses.fields(Recipe):
        options = {k: v for k, v in f.metadata.items() if k != "flag"}
        parser.add_argument(f.metadata["flag"] or f"--{f.name.replace('_', '-')}", dest=f.name,
                            default=getattr(base, f.name), **options)


def recipe_from(args: argparse.Namespace) -> Recipe:
    """The recipe of parsed options (``add_recipe_arguments``)."""
    return Recipe(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Recipe)})
