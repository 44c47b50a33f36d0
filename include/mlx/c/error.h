/* error.h: the mlx-c error handler. Every failing call reports "<message> at <file>:<line>"
 * to the installed handler, then returns 1 (or an empty handle / NULL). Unlike mlx-c, the
 * default handler prints "MLX error: <message>" to stdout and RETURNS (no exit), so programs
 * always see the return code (DESIGN section 1). */
#ifndef MLX_ERROR_H
#define MLX_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*mlx_error_handler_func)(const char* msg, void* data);

/* Installs handler (NULL restores the default). data is passed to every call; dtor (may be
 * NULL) is called on data when this handler is replaced. */
void mlx_set_error_handler(
    mlx_error_handler_func handler,
    void* data,
    void (*dtor)(void*));

/* Formats a message, appends " at <file>:<line>" and calls the handler. */
void _mlx_error(const char* file, const int line, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#define mlx_error(...) _mlx_error(__FILE__, __LINE__, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif
