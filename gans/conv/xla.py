"""XLA's own convolution, differentiated by JAX's rules: the 'xla' backend.

`convolution(x, kernel, strides, pads, *, lhs_dilation, rhs_dilation, feature_group_count)` is
`gans.conv.convolution` (the arguments and the math are there) as one `lax.conv_general_dilated` on
x [B, H, W, C_in] and kernel [kh, kw, C_in / G, C_out] -> [B, H', W', C_out].
"""

import functools

from jax import lax

convolution = functools.partial(
  lax.conv_general_dilated, dimension_numbers=('NHWC', 'HWIO', 'NHWC')
)
