# palette.gp: the fixed look every rotorbench plot shares, loaded by plots/*.gp after they set
# the terminal. One colour and one point type per method, so a method looks the same in every
# plot: make_plots.sh writes them at plot time from the registry (`rotorbench methods --json`:
# colour-blind-friendly "tab10" hues by registry position, plugins included) into a file that
# loads this one and then defines mcolor(m) and mpoint(m). These are the fallbacks when the
# registry could not be read.
mcolor(m) = '#000000'
mpoint(m) = 6
set datafile separator comma
set datafile missing 'NaN'
# every data file make_plots.sh writes has a header row; explicit titles override it
set key autotitle columnhead
set grid xtics ytics mxtics mytics lc rgb '#d0d0d0' lw 1 dt 1, lc rgb '#ececec' lw 1 dt 1
set border lc rgb '#404040'
set key outside right top vertical noenhanced box lc rgb '#c0c0c0' spacing 1.2
