/* ops_random_dist.h: op constructors of random samplers beyond uniform/normal/randint and the distributed collectives
 * (declarations only; included by ops.h, whose ownership and error rules apply). */
#ifndef MX_OPS_RANDOM_DIST_H
#define MX_OPS_RANDOM_DIST_H

#endif
