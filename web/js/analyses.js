// The analyses a file can get, each a POST /process/<type>/<session> with {"file": name, ...options};
// `body`: fixed fields of its request; `image`: the analysis takes album art (an image upload of the session) for
// models that see images.
export const ANALYSES = [
  { type: 'pitch', label: 'Key, tempo, chords, melody', checked: true },
  { type: 'features', label: 'Features picture', checked: true },
  { type: 'demucs', label: 'Stems', choices: [
    ['htdemucs', 'Demucs (htdemucs)'], ['hpss', 'Harmonic / percussive (fast, no model)'],
    ['repet', 'Vocals / accompaniment (fast, no model)']], option: 'model',
    // the stems' audio (the route's `format`): a stranger's 10-minute track came back as two 225 MB float WAVs
    formats: [['wav', 'WAV (32-bit float, largest)'], ['flac', 'FLAC (lossless, about half)'],
      ['mp3', 'MP3 (320 kbit/s, smallest)']] },
  { type: 'whisper', label: 'Transcript (Whisper)' },
  { type: 'lyrics', label: 'Lyrics analysis (LLM)', image: true },
  // `auto`: a model this server has (the route's default, gemma-3n-E4B, had refused it wherever that was missing)
  { type: 'gemma_3n', label: 'Audio LLM analysis', image: true, body: { model_variant: 'auto' } },
];

export const LABELS = Object.fromEntries(ANALYSES.map((a) => [a.type, a.label]));

// Which separation models can run on this server (GET /separation/models, read once at start): the Stems select
// then opens on the default only where its weights are here, else on the first choice that needs none, and names
// the models whose weights are missing (the page had offered htdemucs first everywhere; without its weights the
// run was a 409).
export const separation = { present: null };

export function stemsChoice(value) {
  return separation.present === null || separation.present.has(value);
}
