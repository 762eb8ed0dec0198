build-dev/obj/src/api/billing.o: src/api/billing.c src/api/api.h \
 src/base/err.h src/http/http.h src/base/arena.h src/base/buf.h \
 src/service/app.h src/base/config.h src/crypto/crypto.h src/store/db.h \
 src/base/timeutil.h src/service/accounts.h src/store/store.h \
 src/service/credits.h src/service/payments.h src/service/usage.h
src/api/api.h:
src/base/err.h:
src/http/http.h:
src/base/arena.h:
src/base/buf.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/base/timeutil.h:
src/service/accounts.h:
src/store/store.h:
src/service/credits.h:
src/service/payments.h:
src/service/usage.h:
