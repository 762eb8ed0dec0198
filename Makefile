# Atelier: build, run, check, bench, fuzz.
# Sources are found by wildcard: a new src/X/Y.c or tests/unit/X/Y_test.c
# needs no edit here. Dependencies come from pkg-config (scripts/deps.sh).

BUILD    ?= build
CC       ?= cc
PKGS     := libmicrohttpd jansson inih sqlite3 libsodium libcurl libpcre2-8 libpng libzip libqrencode libpq gnutls libjpeg libwebp
OPT      ?= -O2
SAN      ?=
CFLAGS   += -std=c17 $(OPT) -g -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -D_GNU_SOURCE \
            -fno-strict-aliasing -pthread $(SAN) -Isrc -I$(BUILD)/gen
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
# clang does not know gcc's -Wno-format-truncation; tell it not to mind
ifneq ($(findstring clang,$(CC)),)
CFLAGS   += -Wno-unknown-warning-option
endif
LDFLAGS  += $(SAN)

SRC      := $(shell find src -name '*.c' ! -path src/main.c | sort)
OBJ      := $(SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/embedded.o
EMBED    := $(shell find web src/store/migrations -type f 2>/dev/null | sort)
UNIT_SRC := $(shell find tests/unit -name '*_test.c' 2>/dev/null | sort)
UNIT_BIN := $(UNIT_SRC:%.c=$(BUILD)/%)

.PHONY: all run check check-asan unit e2e bench fuzz clean deps
all: $(BUILD)/atelier

deps:
	@sh scripts/deps.sh

$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(@D)
	$(CC) -O1 -o $@ $<

$(BUILD)/gen/embedded.c: $(BUILD)/tools/embed $(EMBED)
	@mkdir -p $(@D)
	$(BUILD)/tools/embed $@ $(EMBED)

$(BUILD)/obj/gen/embedded.o: $(BUILD)/gen/embedded.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libatelier.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/atelier: $(BUILD)/obj/src/main.o $(BUILD)/libatelier.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libatelier.a
	@mkdir -p $(@D)
	@echo "  TEST    $<"
	@$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/libatelier.a $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)

# `make run`: install what is missing, build, serve on 127.0.0.1:8080 with var/.
run: deps all
	./$(BUILD)/atelier serve --listen 127.0.0.1:8080 --data-dir var

# `make check`: everything, ending with one line "N passed, N failed".
check: deps
	@sh scripts/check.sh

check-asan: deps
	@ASAN=1 sh scripts/check.sh

bench: deps all
	@for b in bench/*.sh; do sh $$b; done

fuzz: deps
	@sh scripts/fuzz.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
