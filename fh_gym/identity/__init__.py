"""Identity: face recognisers behind one interface (:mod:`fh_gym.identity.recognizers`)."""

from fh_gym.identity.recognizers import (
    FLIP_SUFFIX,
    DlibRecognizer,
    NetRecognizer,
    Recognizer,
    build_recognizer,
    identity_block,
    identity_distance,
    identity_network,
    split_flip,
)

__all__ = ["FLIP_SUFFIX", "DlibRecognizer", "NetRecognizer", "Recognizer", "build_recognizer", "identity_block",
           "identity_distance", "identity_network", "split_flip"]
