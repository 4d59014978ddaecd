# kv_codec.gp: the KV-cache paths' bandwidth, encode and decode, grouped bars per (path, dtype,
# bits), one bar per method. GPU (pct = 1): as a percentage of the measured device-to-device copy
# of the bytes each path moves (encode: N d sizeof(T) in + the packed cache out; decode the
# reverse), with the copy (100 %) and the 85 % target as lines. CPU (pct = 0): GB/s of the same
# bytes, no lines (there is no device copy to compare with).
# Parameters (gnuplot -e): in (CSV: label, then one column per method, a header row, NaN where
# missing), methods (space-separated, in column order), ngroups, ymax, pct (0/1), ylab, out,
# title, sub, pal.
if (!exists('pal')) pal = 'plots/palette.gp'
set term pngcairo size 1280,768 enhanced font 'Sans,11'
load pal
set output out
nm = words(methods)
if (!exists('pct')) pct = 1
set title title."\n".sub noenhanced font 'Sans,13'
set style data histograms
set style histogram clustered gap 1.5
set style fill solid 0.9 border lc rgb '#303030'
set boxwidth 0.9
set xtics rotate by -40 noenhanced nomirror
set grid noxtics nomxtics ytics
if (exists('ylab')) { set ylabel ylab noenhanced } else { set ylabel '% of D2D copy bandwidth of the bytes the path moves' }
set xlabel 'path, dtype, bits' noenhanced
if (!exists('ymax')) ymax = 110
set yrange [0:ymax]
set xrange [-0.6:*]
set key outside right top noenhanced
if (pct) {
    set arrow 1 from graph 0, first 100 to graph 1, first 100 nohead dt 2 lw 1.5 lc rgb '#000000' front
    set arrow 2 from graph 0, first 85 to graph 1, first 85 nohead dt 3 lw 1.5 lc rgb '#606060' front
    set label 1 '100 % = copy' at graph 0.005, first 100 left offset 0, 0.6 front font ',9'
    set label 2 '85 % target' at graph 0.005, first 85 left offset 0, -0.6 front font ',9'
}
set bmargin 8
plot for [i = 1:nm] in using (column(i + 1)):xtic(1) title word(methods, i) lc rgb mcolor(word(methods, i))
