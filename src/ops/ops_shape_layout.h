/* ops_shape_layout.h: op constructors of the shapes, views, layout, matmul products family (declarations only; included by ops.h,
 * whose ownership and error rules apply). */
#ifndef MX_OPS_SHAPE_LAYOUT_H
#define MX_OPS_SHAPE_LAYOUT_H

#endif
