"""Generated wire API (package voice.v1). Do not edit: tools/gen_protos.py."""
