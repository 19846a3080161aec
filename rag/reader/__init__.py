"""The trained span reader: short answers read from the passages.

    windows.py   a sentence and its neighbours: what the reader reads
    net.py       the network (e5-small's top layers + a span head), encoding, span decoding
    tokens.py    e5's pieces, or the same cut into single Chinese characters
    weights.py   the shipped, versioned, hash-checked weights folder
    reader.py    SpanReader.read(question, windows), loaded on first use
    data.py      training windows from SQuAD-format files, with hard negatives
    train.py     the resumable training loop; session.py runs it end to end
    length_prior.py  a prior and a cap on span length, fitted on validation windows (calibration step 0)
    calibrate.py ranking weight and refusal rule, fitted on validation data
    export.py    calibrate, then write the weights folder and its model card

Nothing heavy is imported here.
"""
