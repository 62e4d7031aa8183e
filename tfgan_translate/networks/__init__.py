"""Generator and discriminator builders of the published translation models.

Each builder takes plain arguments and returns a named functional ``keras.Model`` whose
layers, widths and padding follow the reference implementation.
"""

from .discriminators import (
    build_patchgan_discriminator,
    build_pixel_discriminator,
    patchgan_output_size,
    patchgan_receptive_field,
)
from .cut import build_feature_encoder, build_patch_head, resnet_reference_sequence, xavier_normal_init
from .generators import build_resnet_generator, build_unet_generator
from .blocks import NORMS
from .discogan import build_dcgan_discriminator, build_encoder_decoder_generator
from .pix2pixhd import (
    build_global_generator,
    build_local_enhancer,
    build_multiscale_discriminator,
)
# pix2pixHD's E; ``build_feature_encoder`` at this level is CUT's (a view of its generator).
from .feature_encoder import InstanceAverage, feature_encoder_size_multiple, feature_encoder_trunk, instance_average
from .feature_encoder import build_feature_encoder as build_pix2pixhd_feature_encoder
from .stackgan import (
    ConditioningAugmentation,
    build_conditional_logits,
    build_stage1_discriminator,
    build_stage1_generator,
    build_stage2_discriminator,
    build_stage2_generator,
    build_unconditional_logits,
    conditioning_layer,
    stage1_image,
)

__all__ = [
    "build_feature_encoder", "build_patch_head", "resnet_reference_sequence", "xavier_normal_init",
    "NORMS",
    "build_dcgan_discriminator",
    "build_encoder_decoder_generator",
    "build_global_generator",
    "build_local_enhancer",
    "build_multiscale_discriminator",
    "build_pix2pixhd_feature_encoder", "feature_encoder_size_multiple", "feature_encoder_trunk", "instance_average",
    "InstanceAverage",
    "build_patchgan_discriminator",
    "build_pixel_discriminator",
    "build_resnet_generator",
    "build_unet_generator",
    "patchgan_output_size",
    "patchgan_receptive_field",
    "ConditioningAugmentation", "build_conditional_logits", "build_stage1_discriminator", "build_stage1_generator",
    "build_stage2_discriminator", "build_stage2_generator", "build_unconditional_logits", "conditioning_layer",
    "stage1_image",
]
