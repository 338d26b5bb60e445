# Writes a man page from the text a program prints for --help, or from the commented
# default config, so a page and the help can never say different things. cmake -P with
#   -DNAME=medperfd -DSECTION=8 -DSUMMARY="..." -DVERSION=0.1.0 -DOUT=file and
#   -DHELP_OF=/path/to/binary  (DESCRIPTION: what `binary --help` prints), or
#   -DFILE=packaging/medperfd.yaml  (medperfd.yaml(5): the file whole, after an intro).
cmake_minimum_required(VERSION 3.25)

# Literal text for roff: backslashes and minus signs escaped, no line starting with a
# control character, in a no-fill block so the help's own layout stays.
function(roff_literal text out)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} ".nf\n${text}\n.fi\n" PARENT_SCOPE)
endfunction()

string(TOUPPER "${NAME}" upper)
string(REPLACE "-" "\\-" name_roff "${NAME}")
set(page ".TH ${upper} ${SECTION} \"\" \"medperf-site-agent ${VERSION}\" \"MedPerf site agent\"\n")
string(APPEND page ".SH NAME\n${name_roff} \\- ${SUMMARY}\n")
if(HELP_OF)
  execute_process(COMMAND "${HELP_OF}" --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR help STREQUAL "")
    message(FATAL_ERROR "${HELP_OF} --help failed (${rc})")
  endif()
  string(STRIP "${help}" help)
  roff_literal("${help}" body)
  string(APPEND page ".SH DESCRIPTION\nWhat \\fB${name_roff} \\-\\-help\\fR prints:\n.PP\n${body}")
else()
  file(READ "${FILE}" text)
  string(STRIP "${text}" text)
  roff_literal("${text}" body)
  string(APPEND page
         ".SH SYNOPSIS\n\\fI/etc/medperfd/medperfd.yaml\\fR\n.br\n"
         "\\fI$XDG_CONFIG_HOME/medperfd/medperfd.yaml\\fR (\\fBmedperfd \\-\\-user\\fR)\n"
         ".SH DESCRIPTION\n"
         "medperfd reads this YAML file once, at start: \\fBsystemctl restart medperfd\\fR "
         "applies a change. Every key is optional. An unknown key, a wrong type or a repeated "
         "key is an error that names the file and the key, and the daemon does not start. "
         "Command\\-line flags (\\fBmedperfd \\-\\-help\\fR) override the file.\n"
         ".PP\nThe default file, below, documents every key in its comments.\n"
         ".SH THE DEFAULT FILE\n${body}")
endif()
string(APPEND page ".SH SEE ALSO\n.BR medperfctl (1),\n.BR medperfd (8),\n"
       ".BR medperfd.yaml (5),\n.BR medperf\\-server (1)\n")
file(WRITE "${OUT}" "${page}")
