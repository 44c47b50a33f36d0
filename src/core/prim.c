/* prim.c: the primitive vtable array and library initialisation: names and flags come
 * from the generated table, kernels and rules from the layers above (prim.h). */
#include "prim.h"

mx_prim_vt mx_prims[MX_PRIM_COUNT];

__attribute__((constructor)) static void mx_prims_init(void) {
  for (int p = 0; p < MX_PRIM_COUNT; p++) {
    mx_prims[p].name = mx_prim_name(p);
    if (mx_prim_has_flag(p, "donate")) mx_prims[p].flags |= MX_PF_DONATE;
    if (mx_prim_has_flag(p, "donate0")) mx_prims[p].flags |= MX_PF_DONATE | MX_PF_DONATE_FIRST;
    if (mx_prim_has_flag(p, "random")) mx_prims[p].flags |= MX_PF_RANDOM;
  }
  mx_prims_register_kernels();
  mx_prims_register_rules();
  mx_prims_register_views();
}
