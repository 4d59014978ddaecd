# speedup.gp: speedup over RotorQuant per setting, ours beside the IsoQuant paper's Table 2.
# Parameters (gnuplot -e): in (CSV: label,full,paper_full,fast,paper_fast,planar,paper_2d, a
# header row, NaN where missing), out (PNG), title, sub (device and backend), pal (palette.gp),
# paper (1: the paper's bars beside ours, GPU results; 0: ours alone, CPU results).
# One name per method: the paper's for planarquant, IsoQuant-2D, is said in its legend entry.
if (!exists('pal')) pal = 'plots/palette.gp'
if (!exists('paper')) paper = 1
set term pngcairo size 1280,768 enhanced font 'Sans,11'
load pal
set output out
set title title."\n".sub noenhanced font 'Sans,13'
set style data histograms
set style histogram clustered gap 1.5
set boxwidth 0.9
set xtics rotate by -40 noenhanced nomirror
set grid noxtics nomxtics
set ylabel 'speedup over RotorQuant (RotorQuant time / method time, ×)'
set xlabel 'setting (dtype, bits per coordinate, d)'
set yrange [0:*]
set xrange [-0.6:*]
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb '#404040' front
set bmargin 6
set key outside top center horizontal maxrows 2 noenhanced box
if (paper) {
plot in using 2:xtic(1) title 'isoquant-full, ours'   lc rgb mcolor('isoquant-full') fs solid 0.9 border lc rgb '#303030', \
     ''  using 3        title 'isoquant-full, paper (RTX 4090)'  lc rgb mcolor('isoquant-full') fs pattern 5 border lc rgb mcolor('isoquant-full'), \
     ''  using 4        title 'isoquant-fast, ours'   lc rgb mcolor('isoquant-fast') fs solid 0.9 border lc rgb '#303030', \
     ''  using 5        title 'isoquant-fast, paper (RTX 4090)'  lc rgb mcolor('isoquant-fast') fs pattern 5 border lc rgb mcolor('isoquant-fast'), \
     ''  using 6        title 'planarquant, ours'     lc rgb mcolor('planarquant')   fs solid 0.9 border lc rgb '#303030', \
     ''  using 7        title 'planarquant, paper (its "IsoQuant-2D", RTX 4090)' lc rgb mcolor('planarquant') fs pattern 5 border lc rgb mcolor('planarquant')
} else {
plot in using 2:xtic(1) title 'isoquant-full' lc rgb mcolor('isoquant-full') fs solid 0.9 border lc rgb '#303030', \
     ''  using 4        title 'isoquant-fast' lc rgb mcolor('isoquant-fast') fs solid 0.9 border lc rgb '#303030', \
     ''  using 6        title "planarquant (the paper's IsoQuant-2D)" lc rgb mcolor('planarquant') fs solid 0.9 border lc rgb '#303030'
}
