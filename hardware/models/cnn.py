"""ResNet and VGG image classifiers as :class:`~hardware.models.convnet.ConvNet` layer tables.

Hyper-parameters and parameter counts follow torchvision (``torchvision.models.resnet``,
``torchvision.models.vgg``): ResNet v1.5 with the stride on the 3x3 convolution, VGG with biased
convolutions, optional batch norm and the 25088-4096-4096-classes classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware.models.convnet import Conv, ConvNet, ConvTable, Dense, Pool

_STAGE_WIDTHS = (64, 128, 256, 512)


@dataclass(frozen=True, slots=True)
class ResNet(ConvNet):
    """ResNet v1.5 (torchvision layout).

    ``blocks=(2, 2, 2, 2)`` with ``bottleneck=False`` is ResNet-18, ``(3, 4, 6, 3)`` basic
    ResNet-34; with bottlenecks ``(3, 4, 6, 3)`` is ResNet-50, ``(3, 4, 23, 3)`` ResNet-101 and
    ``(3, 8, 36, 3)`` ResNet-152.

    Attributes:
        name: Canonical model name.
        blocks: Residual blocks per stage (four stages of width 64, 128, 256, 512).
        classes: Outputs of the final fully connected layer.
        bottleneck: Bottleneck blocks (1x1-3x3-1x1, expansion 4) or basic blocks (two 3x3).

    """

    name: str
    blocks: tuple[int, int, int, int] = (3, 4, 6, 3)
    classes: int = 1000
    bottleneck: bool = True

    def __post_init__(self) -> None:
        """Validate hyper-parameters."""
        if len(self.blocks) != 4 or any(n < 1 for n in self.blocks):
            raise ValueError(f"{self.name}: blocks must be four positive integers")
        if self.classes < 1:
            raise ValueError(f"{self.name}: classes must be >= 1")

    @property
    def default_seq_len(self) -> int:
        """Default image side in pixels (224)."""
        return 224

    def table(self) -> ConvTable:
        """Stem, residual stages (names ``s{stage}b{block}_*``), global pool and ``fc``."""
        convs = [Conv("conv1", 7, 3, 64, stride=2, scale=1)]
        expansion = 4 if self.bottleneck else 1
        c_in, scale = 64, 4
        for stage, (n_blocks, width) in enumerate(zip(self.blocks, _STAGE_WIDTHS, strict=True)):
            c_out = width * expansion
            for i in range(n_blocks):
                stride = 2 if stage > 0 and i == 0 else 1
                out_scale = scale * stride
                tag = f"s{stage + 1}b{i + 1}"
                keep = {"keep": c_in, "keep_scale": scale}
                if self.bottleneck:
                    convs += [
                        Conv(f"{tag}_1x1a", 1, c_in, width, scale=scale),
                        Conv(f"{tag}_3x3", 3, width, width, stride, scale, **keep),
                        Conv(f"{tag}_1x1b", 1, width, c_out, 1, out_scale, residual=True, **keep),
                    ]
                else:
                    convs += [
                        Conv(f"{tag}_3x3a", 3, c_in, width, stride, scale),
                        Conv(f"{tag}_3x3b", 3, width, c_out, 1, out_scale, residual=True, **keep),
                    ]
                if stride != 1 or c_in != c_out:
                    convs.append(Conv(f"{tag}_down", 1, c_in, c_out, stride, scale, act_passes=0))
                c_in, scale = c_out, out_scale
        pools = (Pool("maxpool", 9, 64, 4), Pool("avgpool", 1, c_in, 32))
        return ConvTable(tuple(convs), (Dense("fc", c_in, self.classes),), pools)


_VGG_CONFIGS = {
    11: (1, 1, 2, 2, 2),
    13: (2, 2, 2, 2, 2),
    16: (2, 2, 3, 3, 3),
    19: (2, 2, 4, 4, 4),
}
"""Convolutions per stage of VGG-11/13/16/19 (stages of width 64, 128, 256, 512, 512)."""


@dataclass(frozen=True, slots=True)
class VGG(ConvNet):
    """VGG (torchvision layout): 3x3 convolutions in five stages, max pooling, three FC layers.

    Attributes:
        name: Canonical model name.
        depth: 11, 13, 16 or 19 weight layers.
        batch_norm: The ``_bn`` variants (batch norm after every convolution).
        classes: Outputs of the last FC layer.

    """

    name: str
    depth: int = 16
    batch_norm: bool = False
    classes: int = 1000

    def __post_init__(self) -> None:
        """Validate hyper-parameters."""
        if self.depth not in _VGG_CONFIGS:
            raise ValueError(f"{self.name}: depth must be one of {sorted(_VGG_CONFIGS)}")
        if self.classes < 1:
            raise ValueError(f"{self.name}: classes must be >= 1")

    @property
    def default_seq_len(self) -> int:
        """Default image side in pixels (224)."""
        return 224

    def table(self) -> ConvTable:
        """Five stages of biased 3x3 convolutions with 2x2 max pooling, then the classifier."""
        convs, pools = [], []
        c_in, scale = 3, 1
        widths = (64, 128, 256, 512, 512)
        for stage, (n, width) in enumerate(zip(_VGG_CONFIGS[self.depth], widths, strict=True)):
            for i in range(n):
                name = f"s{stage + 1}c{i + 1}"
                convs.append(Conv(name, 3, c_in, width, 1, scale, bias=True, norm=self.batch_norm))
                c_in = width
            scale *= 2
            pools.append(Pool(f"pool{stage + 1}", 4, width, scale))
        dense = (
            Dense("fc1", 512 * 7 * 7, 4096, act_passes=1),
            Dense("fc2", 4096, 4096, act_passes=1),
            Dense("fc3", 4096, self.classes),
        )
        return ConvTable(tuple(convs), dense, tuple(pools))
