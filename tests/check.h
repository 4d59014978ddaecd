/* check.h: a tiny test framework. TEST(name) registers a function at load time (no central
 * list to edit); CHECK(cond, fmt, ...) records one assertion and prints the failing values.
 * The runner (tests/run_tests.c) prints "N passed, N failed", counting assertions. */
#ifndef RB_CHECK_H
#define RB_CHECK_H

#include <math.h>
#include <stdio.h>

typedef void (*rb_test_fn)(void);
void rb_test_register(const char *name, const char *file, rb_test_fn fn);
void rb_check_record(int ok, const char *file, int line, const char *expr);
extern int rb_check_verbose;

#define TEST(name)                                                              \
    static void test_##name(void);                                              \
    __attribute__((constructor)) static void register_##name(void)              \
    {                                                                           \
        rb_test_register(#name, __FILE__, test_##name);                         \
    }                                                                           \
    static void test_##name(void)

/* CHECK(cond, "fmt", args...) : the message is printed only on failure. */
#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        int ok_ = (cond) ? 1 : 0;                                               \
        rb_check_record(ok_, __FILE__, __LINE__, #cond);                        \
        if (!ok_) {                                                             \
            fprintf(stderr, "    ");                                            \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
        }                                                                       \
    } while (0)

/* |a - b| <= tol, with the values shown on failure. */
#define CHECK_NEAR(a, b, tol)                                                   \
    do {                                                                        \
        double a_ = (a), b_ = (b), t_ = (tol);                                  \
        CHECK(fabs(a_ - b_) <= t_, "%s = %.9g, %s = %.9g, |diff| %.3g > %.3g",  \
              #a, a_, #b, b_, fabs(a_ - b_), t_);                               \
    } while (0)

/* |a - b| <= rel * |b| */
#define CHECK_REL(a, b, rel)                                                    \
    do {                                                                        \
        double a_ = (a), b_ = (b), r_ = (rel);                                  \
        CHECK(fabs(a_ - b_) <= r_ * fabs(b_),                                   \
              "%s = %.9g, %s = %.9g, rel diff %.3g > %.3g", #a, a_, #b, b_,     \
              fabs(a_ - b_) / fabs(b_), r_);                                    \
    } while (0)

#endif
