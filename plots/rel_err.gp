# rel_err.gp: mean relative error ‖x − x̂‖² / ‖x‖² against bits for file inputs, whose rows keep
# their norms (so no Lloyd-Max line): one panel per d, one curve per method and input slice; the
# method sets the colour, the slice the point type and dash.
# Parameters (gnuplot -e): dir (holds rel_<k>.csv: bits,rel_err with a header row, sorted by
# bits), ds (the d values of the panels), cd, cm, ck, ci (per curve, space-separated: its d,
# method, file number k and input), inputs (the distinct inputs), ylo, yhi (the shared y range),
# out, title, sub, pal.
if (!exists('pal')) pal = 'plots/palette.gp'
set term pngcairo size 1280,768 enhanced font 'Sans,11'
load pal
set output out
n  = words(ds)
nc = words(cm)
ni = words(inputs)
L = 0.02; R = 0.74; T = 0.86; B = 0.10
w = (R - L) / n
# the position of input s in the list of inputs: its point type and dash
slot(s) = sum [j = 1:ni] (word(inputs, j) eq s ? j : 0)
ipoint(s) = word('7 5 9 11 13 15 4 6', 1 + (slot(s) - 1) % 8) + 0
islot(s) = 1 + (slot(s) - 1) % 5
set logscale y
set format y '10^{%L}'
set xtics 1 nomirror
set xlabel 'bits per coordinate (HQMQ: stored bits per coordinate)'
set multiplot title title."\n".sub noenhanced font 'Sans,13'
do for [p = 1:n] {
    d = word(ds, p)
    set lmargin at screen L + (p - 1) * w + 0.065
    set rmargin at screen L + p * w - 0.005
    set tmargin at screen T
    set bmargin at screen B
    set title sprintf('d = %s', d)
    if (p == 1) { set ylabel 'mean relative error ‖x − x̂‖² / ‖x‖²' } else { unset ylabel }
    if (p == n) { set key at screen 0.99, T right top } else { unset key }
    set yrange [ylo:yhi]
    set autoscale x
    set offsets 0.3, 0.3, 0, 0
    plot for [k = 1:nc] sprintf('%s/rel_%s.csv', dir, word(ck, k)) \
         using 1:(word(cd, k) eq d ? $2 : NaN) with linespoints lw 1.5 dt islot(word(ci, k)) \
         pt ipoint(word(ci, k)) ps 1.3 lc rgb mcolor(word(cm, k)) title (word(cd, k) eq d ? word(cm, k).' '.word(ci, k) : '')
}
unset multiplot
