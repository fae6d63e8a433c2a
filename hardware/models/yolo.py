"""YOLOv4 (CSPDarknet53 backbone, SPP, PANet neck, three YOLO heads) as a layer table.

Transcribed from darknet's ``cfg/yolov4.cfg`` (AlexeyAB/darknet; Bochkovskiy et al. 2020,
arXiv:2004.10934): every ``[convolutional]`` block in order, with routes and shortcuts reduced
to the channel counts they produce. Backbone convolutions use Mish (3 vector passes per
element), the neck leaky ReLU; the three 1x1 detection convolutions are linear with a bias
(``3 * (classes + 5)`` outputs). The 1x1 "split" convolutions of each CSP stage both read the
stage's downsampled input. Box decoding and NMS run on the host and are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware.models.convnet import Conv, ConvNet, ConvTable, Pool

_MISH = 3.0
_LEAKY = 1.0

_CSP_STAGES = ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4))
"""(output channels, residual blocks) of the five CSPDarknet53 stages."""


def _backbone() -> list[Conv]:
    """CSPDarknet53: stem, then five downsample + CSP stages (scales 2..32)."""
    convs = [Conv("stem", 3, 3, 32, act_passes=_MISH)]
    c_in, scale = 32, 1
    for i, (c_out, blocks) in enumerate(_CSP_STAGES):
        tag = f"csp{i + 1}"
        convs.append(Conv(f"{tag}_down", 3, c_in, c_out, 2, scale, _MISH))
        scale *= 2
        half = c_out if i == 0 else c_out // 2  # stage 1 keeps full width in its branches
        inner = c_out // 2 if i == 0 else half
        keep = {"keep": half, "keep_scale": scale}
        convs.append(Conv(f"{tag}_split_a", 1, c_out, half, 1, scale, _MISH))
        convs.append(Conv(f"{tag}_split_b", 1, c_out, half, 1, scale, _MISH, **keep))
        for j in range(blocks):
            convs.append(Conv(f"{tag}_r{j + 1}_1x1", 1, half, inner, 1, scale, _MISH, **keep))
            convs.append(
                Conv(f"{tag}_r{j + 1}_3x3", 3, inner, half, 1, scale, _MISH, residual=True, **keep)
            )
        convs.append(Conv(f"{tag}_post", 1, half, half, 1, scale, _MISH, **keep))
        convs.append(Conv(f"{tag}_transition", 1, 2 * half, c_out, 1, scale, _MISH))
        c_in = c_out
    return convs


def _block5(tag: str, c: int, c_in: int, scale: int) -> list[Conv]:
    """The neck's five alternating 1x1 / 3x3 convolutions (``c_in -> c``)."""
    return [
        Conv(f"{tag}_1", 1, c_in, c, 1, scale, _LEAKY),
        Conv(f"{tag}_2", 3, c, 2 * c, 1, scale, _LEAKY),
        Conv(f"{tag}_3", 1, 2 * c, c, 1, scale, _LEAKY),
        Conv(f"{tag}_4", 3, c, 2 * c, 1, scale, _LEAKY),
        Conv(f"{tag}_5", 1, 2 * c, c, 1, scale, _LEAKY),
    ]


def _neck_and_heads(outputs: int) -> list[Conv]:
    """SPP, top-down and bottom-up PANet paths, and the three detection heads."""

    def head(tag: str, c: int, scale: int) -> list[Conv]:
        return [
            Conv(f"{tag}_3x3", 3, c, 2 * c, 1, scale, _LEAKY),
            Conv(f"{tag}_out", 1, 2 * c, outputs, 1, scale, 0.0, bias=True, norm=False),
        ]

    convs = [
        Conv("spp_pre1", 1, 1024, 512, 1, 32, _LEAKY),
        Conv("spp_pre2", 3, 512, 1024, 1, 32, _LEAKY),
        Conv("spp_pre3", 1, 1024, 512, 1, 32, _LEAKY),
        Conv("spp_post1", 1, 2048, 512, 1, 32, _LEAKY),
        Conv("spp_post2", 3, 512, 1024, 1, 32, _LEAKY),
        Conv("spp_post3", 1, 1024, 512, 1, 32, _LEAKY),
        Conv("td16_reduce", 1, 512, 256, 1, 32, _LEAKY),
        Conv("td16_lateral", 1, 512, 256, 1, 16, _LEAKY),
        *_block5("td16", 256, 512, 16),
        Conv("td8_reduce", 1, 256, 128, 1, 16, _LEAKY),
        Conv("td8_lateral", 1, 256, 128, 1, 8, _LEAKY),
        *_block5("td8", 128, 256, 8),
        *head("head8", 128, 8),
        Conv("bu16_down", 3, 128, 256, 2, 8, _LEAKY),
        *_block5("bu16", 256, 512, 16),
        *head("head16", 256, 16),
        Conv("bu32_down", 3, 256, 512, 2, 16, _LEAKY),
        *_block5("bu32", 512, 1024, 32),
        *head("head32", 512, 32),
    ]
    return convs


@dataclass(frozen=True, slots=True)
class YoloV4(ConvNet):
    """YOLOv4 object detector (darknet ``yolov4.cfg``); ``seq_len`` is the image side.

    Attributes:
        name: Canonical model name.
        classes: Object classes (80 for COCO): each head emits ``3 * (classes + 5)`` channels.
        image_size: Default image side in pixels. 416, the smallest of YOLOv4's three
            standard sizes (416, 512, 608; ``yolov4.cfg`` ships 608): the published Neuron
            YOLOv4 rows, which do not state their size, agree with 416 px and are twice as fast
            as 608 px would be. Sides should be multiples of 32.

    """

    name: str
    classes: int = 80
    image_size: int = 416

    def __post_init__(self) -> None:
        """Validate hyper-parameters."""
        if self.classes < 1 or self.image_size < 32:
            raise ValueError(f"{self.name}: classes >= 1 and image_size >= 32 required")

    @property
    def default_seq_len(self) -> int:
        """Default image side in pixels."""
        return self.image_size

    def table(self) -> ConvTable:
        """Backbone, neck and heads; SPP max pools and the two 2x upsamplings as pool work."""
        convs = _backbone() + _neck_and_heads(3 * (self.classes + 5))
        pools = (
            Pool("spp_maxpool", 5 * 5 + 9 * 9 + 13 * 13, 512, 32),
            Pool("upsample16", 1, 256, 16),
            Pool("upsample8", 1, 128, 8),
        )
        return ConvTable(tuple(convs), (), pools)
