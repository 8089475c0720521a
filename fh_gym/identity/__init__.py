"""Identity: face recognisers behind one interface (:mod:`fh_gym.identity.recognizers`)."""

from fh_gym.identity.recognizers import (
    DlibRecognizer,
    NetRecognizer,
    Recognizer,
    build_recognizer,
    identity_block,
    identity_distance,
    identity_network,
)

__all__ = ["DlibRecognizer", "NetRecognizer", "Recognizer", "build_recognizer", "identity_block",
           "identity_distance", "identity_network"]
