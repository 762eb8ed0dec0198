build-dev/obj/src/engine/image/pngio.o: src/engine/image/pngio.c \
 src/engine/image/pngio.h src/base/err.h /usr/include/libpng16/png.h \
 /usr/include/libpng16/pnglibconf.h /usr/include/libpng16/pngconf.h
src/engine/image/pngio.h:
src/base/err.h:
/usr/include/libpng16/png.h:
/usr/include/libpng16/pnglibconf.h:
/usr/include/libpng16/pngconf.h:
