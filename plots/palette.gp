# palette.gp: the fixed look every rotorbench plot shares, loaded by plots/*.gp after they set
# the terminal. One colour and one point type per method, so a method looks the same in every
# plot (colour-blind-friendly "tab10" hues).
mcolor(m) = m eq 'identity'         ? '#7f7f7f' : \
            m eq 'turboquant-wht'   ? '#1f77b4' : \
            m eq 'turboquant-dense' ? '#17becf' : \
            m eq 'rotorquant'       ? '#d62728' : \
            m eq 'isoquant-full'    ? '#2ca02c' : \
            m eq 'isoquant-fast'    ? '#ff7f0e' : \
            m eq 'planarquant'      ? '#9467bd' : \
            m eq 'hqmq'             ? '#8c564b' : '#000000'
mpoint(m) = m eq 'identity'         ? 3 : \
            m eq 'turboquant-wht'   ? 5 : \
            m eq 'turboquant-dense' ? 4 : \
            m eq 'rotorquant'       ? 7 : \
            m eq 'isoquant-full'    ? 9 : \
            m eq 'isoquant-fast'    ? 11 : \
            m eq 'planarquant'      ? 13 : \
            m eq 'hqmq'             ? 15 : 6
set datafile separator comma
set datafile missing 'NaN'
# every data file make_plots.sh writes has a header row; explicit titles override it
set key autotitle columnhead
set grid xtics ytics mxtics mytics lc rgb '#d0d0d0' lw 1 dt 1, lc rgb '#ececec' lw 1 dt 1
set border lc rgb '#404040'
set key outside right top vertical noenhanced box lc rgb '#c0c0c0' spacing 1.2
