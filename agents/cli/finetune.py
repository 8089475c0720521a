"""``fh-gym finetune-restorer``: fine-tune an env's restorer on whole episodes, optionally with an identity term.

Episodes of a fixed strategy (``--strategy``, default the even grid) on the env's training people; after every
repair the patch MSE, at T the image loss on the final face (MSE + ``--identity-weight`` x IPFH's identity loss:
1 - cosine of the ``--identity-net`` features of the result and the truth for a head-less net such as one from
``identity-distill``; a net with an A-softmax head gives its classification loss on the people it knows).
``--identity-weight 0`` (or no ``--identity-net``) is the PSNR-only fine-tuning with the same budget: the
baseline an identity-aware restorer is compared with.
Library: ``fh_gym.agents.identity_finetune``. Rerunning into the same ``--out`` resumes from ``last.pt``.

Example::

    fh-gym finetune-restorer --data lfw --identity-net runs/distill/identity_net.pt --steps 300 --out runs/id_ft
    fh-gym compare --data lfw --restorer runs/id_ft/restorer.pt --strategies even --recognizer dlib
"""

from __future__ import annotations

import argparse

from fh_gym.agents.cli.common import add_env_args, add_out_arg, env_config_from_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    from fh_gym.agents.identity_finetune import SCHEMA  # lazy: the torch stack loads for the command that runs

    p = sub.add_parser("finetune-restorer", help="fine-tune an env's restorer on episodes (identity-aware or not)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_env_args(p, default_split="train")
    for key, field in SCHEMA.fields.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=field.argparse_type(f"--{key.replace('_', '-')}"),
                       help=f"{getattr(field, 'doc', '') or key} (default: {field.default})")
    add_out_arg(p, "runs/finetune-restorer", "run folder (rerunning with the same folder resumes it)")
    p.add_argument("--no-resume", action="store_true", help="start over even if <out>/last.pt exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fh_gym.agents.identity_finetune import SCHEMA, finetune_restorer  # lazy: as above

    settings = {key: getattr(args, key) for key in SCHEMA.fields if getattr(args, key) is not None}
    result = finetune_restorer(env_config_from_args(args), settings, args.out, resume=not args.no_resume,
                               progress=not args.quiet)
    print(f"restorer checkpoint: {result['restorer']}  (steps {result['steps']})")
    return 0
