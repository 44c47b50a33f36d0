/* tape.h: a traced function as a flat program (compile, DESIGN section 6): its ops in
 * topological order, each input a reference to a function input, a captured constant or an
 * earlier op's output. compile.c builds and replays tapes, simplify.c merges common
 * subexpressions, fuse.c turns element-wise chains into Compiled ops. */
#ifndef MX_TAPE_H
#define MX_TAPE_H

#include "transforms.h"

enum { MX_REF_INPUT = 0, MX_REF_CONST = 1, MX_REF_OP = 2 };

typedef struct mx_cref {
  int32_t kind;     /* MX_REF_* */
  int32_t index;    /* input, constant or op index */
  int32_t out;      /* output of the op (MX_REF_OP) */
} mx_cref;

typedef struct mx_tape_op {
  int32_t prim;
  void *params;     /* retained parameter blob (prims_gen.h) or NULL */
  mx_stream stream;
  int32_t n_in, n_out;
  mx_cref *in;
  mx_dtype *dtypes; /* per output */
  int32_t *ndims;
  int32_t **shapes;
  bool dead;        /* removed by simplify/fuse, dropped by mx_tape_compact */
} mx_tape_op;

typedef struct mx_tape {
  int32_t n_inputs;
  mx_dtype *in_dtypes;
  int32_t *in_ndims;
  int32_t **in_shapes;
  int32_t n_consts, cap_consts;
  mx_array **consts;  /* retained: arrays the function captured (constants) */
  int32_t n_ops, cap_ops;
  mx_tape_op *ops;
  int32_t n_outputs;
  mx_cref *outputs;
} mx_tape;

void mx_tape_free(mx_tape *t);
/* Appends an op (params retained, in copied, output specs copied); its index or -1. */
int mx_tape_add_op(mx_tape *t, int prim, const void *params, mx_stream s, int n_in,
                   const mx_cref *in, int n_out, const mx_dtype *dtypes, const int32_t *ndims,
                   const int32_t *const *shapes);
/* Appends a constant (retained); its index or -1. */
int mx_tape_add_const(mx_tape *t, mx_array *a);
/* Drops dead ops and ops no output depends on, renumbering the references. 0 or -1. */
int mx_tape_compact(mx_tape *t);

/* Traces fn on placeholders shaped as inputs into t (which must be zeroed). 0 or -1. */
int mx_tape_trace(mx_tape *t, mx_closure fn, mx_array *const *inputs, int n, int max_out,
                  bool shapeless);
/* Replays t on inputs into outs (t->n_outputs new references); a shapeless tape re-infers
 * every op's output shapes when the input shapes differ from the traced ones. stream (may
 * be NULL: each op's own) overrides the streams the ops were traced on. */
int mx_tape_replay(const mx_tape *t, mx_array *const *inputs, bool shapeless, const mx_stream *stream,
                   mx_array **outs);
/* -1 + error when an op of t cannot infer its output shapes (shapeless compile). */
int mx_tape_check_shapeless(const mx_tape *t);

/* Common-subexpression merge (same primitive, parameters, stream, inputs and output
 * specs), plus equal scalar constants. */
int mx_tape_simplify(mx_tape *t);
/* Element-wise chains on CPU streams become Compiled ops. */
int mx_tape_fuse(mx_tape *t);

/* The Compiled op's program (compiled_kernel.c). operand >= 0: an earlier instruction's
 * result; < 0: program input -(operand + 1), broadcast to the output shape. */
typedef struct mx_pinstr {
  int32_t prim;
  void *params;     /* retained */
  mx_dtype dtype;
  int32_t n_in;
  int32_t in[3];
} mx_pinstr;

typedef struct mx_program {
  mx_object base;
  int32_t n_in, n_instr;
  mx_pinstr *instr;
} mx_program;

/* A program of n_instr instructions (copied; params retained); NULL + error. */
mx_program *mx_program_new(int n_in, int n_instr, const mx_pinstr *instr);
/* Whether a primitive can be an instruction of a program run on this stream's device. */
bool mx_program_can_run(int prim, mx_stream s);

#endif
