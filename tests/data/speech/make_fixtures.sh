#!/usr/bin/env bash
# Rebuilds the speech fixtures in this folder (run once; the outputs are committed).
# Needs the Debian packages pocketsphinx-testdata (real recordings), espeak-ng and sox (synthetic speech).
#   apt-get install pocketsphinx-testdata espeak-ng sox
set -euo pipefail
cd "$(dirname "$0")"
SRC=/usr/share/pocketsphinx/test/data/librivox

# 1. Real read speech: three LibriVox clips (16 kHz mono), stored losslessly as FLAC, with their transcripts.
printf 'file\tlang\tkind\ttext\n' > transcripts.tsv
for id in 0870 0880 0930; do
    name="sense_and_sensibility_01_austen_64kb-$id"
    sox "$SRC/$name.wav" "librivox_$id.flac"
    text=$(grep "($name)" "$SRC/transcription" | sed -e 's/^<s> //' -e 's| </s> (.*)$||')
    printf 'librivox_%s.flac\ten\treal\t%s\n' "$id" "$text" >> transcripts.tsv
done

# 2. Synthetic speech: espeak-ng at 150 words/min, resampled to 16 kHz mono, stored as Ogg Vorbis.
speak() {  # speak VOICE OUT.ogg TEXT
    local tmp; tmp=$(mktemp --suffix=.wav)
    espeak-ng -v "$1" -s 150 -w "$tmp" "$3"
    sox "$tmp" -r 16000 -c 1 "$2"
    rm -f "$tmp"
    printf '%s\t%s\tespeak\t%s\n' "$2" "${1%%-*}" "$3" >> transcripts.tsv
}
speak en-us espeak_en_mr_smith.ogg "Mr. Smith went to Washington on Monday. He met Dr. Jones at the old station. They talked for an hour."
speak de espeak_de.ogg "Der Zug nach Berlin fährt um acht Uhr ab. Wir trinken vorher einen Kaffee am Bahnhof."
speak fr espeak_fr.ogg "Le train pour Paris part à huit heures. Nous prenons un café à la gare avant le départ."
speak es espeak_es.ogg "El tren para Madrid sale a las ocho. Tomamos un café en la estación antes de salir."
ls -l
