/* test_measure_opts.c: the GPU measurement module's limits as options (measure_gpu.h): the
 * defaults every setting is timed with, and the stop reasons derived from them, which must be
 * the strings results have always carried. No GPU needed. */
#include "check.h"
#include "measure_gpu.h"

#include <string.h>

TEST(measure_opts_defaults_are_the_harness_rules)
{
    rb_meas_opts o;
    memset(&o, 0x7f, sizeof o);
    rb_meas_opts_default(&o);
    CHECK(o.min_samples == 10 && o.max_samples == 100 && o.min_time_s == 0.1 && o.max_noise == 0.005 &&
              o.loop_timeout_s == 1.0 && o.target_sample_us == 1000.0 && o.batch == 0 && o.warmup == 1 &&
              o.cold == 1 && o.hot == 1 && o.flush_l2 == 1,
          "defaults: samples %d..%d, %g s, noise %g, timeout %g s, target %g us, batch %d, warmup %d cold %d hot %d "
          "flush %d",
          o.min_samples, o.max_samples, o.min_time_s, o.max_noise, o.loop_timeout_s, o.target_sample_us, o.batch,
          o.warmup, o.cold, o.hot, o.flush_l2);
}

TEST(measure_stop_reasons_derive_from_the_options)
{
    /* the table results carried before the limits were options */
    static const char *const was[3][3] = {
        {"cold: noise <= 0.5%, hot: noise <= 0.5%", "cold: noise <= 0.5%, hot: 100 samples",
         "cold: noise <= 0.5%, hot: time limit"},
        {"cold: 100 samples, hot: noise <= 0.5%", "cold: 100 samples, hot: 100 samples",
         "cold: 100 samples, hot: time limit"},
        {"cold: time limit, hot: noise <= 0.5%", "cold: time limit, hot: 100 samples",
         "cold: time limit, hot: time limit"},
    };
    rb_meas_opts o;
    rb_meas_opts_default(&o);
    char buf[96];
    for (int c = 0; c < 3; c++)
        for (int h = 0; h < 3; h++) {
            rb_meas_stop_reason(&o, c, h, buf, sizeof buf);
            CHECK(!strcmp(buf, was[c][h]), "cold %d hot %d: '%s', was '%s'", c, h, buf, was[c][h]);
        }
    o.max_noise = 0.01;
    o.max_samples = 50;
    rb_meas_stop_reason(&o, RB_MEAS_STOP_NOISE, RB_MEAS_STOP_MAX, buf, sizeof buf);
    CHECK(!strcmp(buf, "cold: noise <= 1%, hot: 50 samples"), "custom limits: '%s'", buf);
    o.cold = 0;
    rb_meas_stop_reason(&o, RB_MEAS_STOP_NOISE, RB_MEAS_STOP_TIME, buf, sizeof buf);
    CHECK(!strcmp(buf, "hot: time limit"), "hot only: '%s'", buf);
    o.cold = 1;
    o.hot = 0;
    rb_meas_stop_reason(&o, RB_MEAS_STOP_MAX, RB_MEAS_STOP_TIME, buf, sizeof buf);
    CHECK(!strcmp(buf, "cold: 50 samples"), "cold only: '%s'", buf);
}
