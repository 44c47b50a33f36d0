/* check.h: a minimal assertion harness for the C tests: CHECK records a failure with its
 * location and keeps going; each test binary returns the failure count. */
#ifndef MX_TEST_CHECK_H
#define MX_TEST_CHECK_H

#include <stdio.h>

static int check_failures;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
      check_failures++;                                                          \
    }                                                                            \
  } while (0)

#define CHECK_OK(expr)                                                           \
  do {                                                                           \
    if ((expr) != 0) {                                                           \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,       \
              mx_error_message());                                               \
      check_failures++;                                                          \
    }                                                                            \
  } while (0)

#define RUN(test)                                                                \
  do {                                                                           \
    int before_ = check_failures;                                                \
    test();                                                                      \
    fprintf(stderr, "%-40s %s\n", #test, check_failures == before_ ? "ok" : "FAILED"); \
  } while (0)

#endif
